package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

// Head is what a registry says about a reference without sending the
// manifest: the digest and media type it serves.
type Head struct {
	Digest    digest.Digest
	MediaType string
	Size      int64
	// Endpoint is where the answer came from.
	Endpoint Endpoint
	// RateLimit is the pull quota the endpoint announced with its answer,
	// nil when it announced none.
	RateLimit *RateLimit
}

// ErrNotFound means no endpoint serves the reference.
var ErrNotFound = errors.New("not found")

// Resolve asks the endpoints of ref, mirrors first, for the digest its tag
// points at (an error names each endpoint and what it answered; the caller
// names ref), with HEAD requests only (free of Docker Hub pull quota). A
// reference pinned by digest is checked to exist by that digest. For a
// multi-platform image the digest is the index's, never one platform's.
func (c *Client) Resolve(ctx context.Context, ref imageref.Ref) (Head, error) {
	eps, err := c.Endpoints(ref)
	if err != nil {
		return Head{}, err
	}
	var errs []string
	notFound := true
	for _, ep := range eps {
		h, err := c.head(ctx, ep, ref)
		if err == nil {
			if ref.IsPinned() && h.Digest != ref.Digest() {
				return Head{}, fmt.Errorf("%s serves digest %s for it", ep, h.Digest)
			}
			return h, nil
		}
		var wait *WaitTooLongError
		if ctx.Err() != nil {
			return Head{}, ctx.Err()
		} else if errors.As(err, &wait) {
			// Told to wait: stop, rather than ask the next endpoint.
			return Head{}, fmt.Errorf("%s: %w", ep, err)
		}
		if !errors.Is(err, ErrNotFound) {
			notFound = false
		}
		c.logger.Debug("endpoint failed", "ref", ref.String(), "endpoint", ep.String(), "err", err)
		errs = append(errs, fmt.Sprintf("%s: %v", ep, err))
	}
	if notFound {
		return Head{}, fmt.Errorf("%w (%s)", ErrNotFound, strings.Join(errs, "; "))
	}
	return Head{}, errors.New(strings.Join(errs, "; "))
}

// HeadTarget asks a target registry what ref points at, directly (no
// mirrors). A missing reference is ErrNotFound.
func (c *Client) HeadTarget(ctx context.Context, ref imageref.Ref) (Head, error) {
	ep, err := c.TargetRepository(ref)
	if err != nil {
		return Head{}, err
	}
	return c.head(ctx, ep, ref)
}

func (c *Client) head(ctx context.Context, ep Endpoint, ref imageref.Ref) (Head, error) {
	h, err := c.host(ep)
	if err != nil {
		return Head{}, err
	}
	// The slot is taken before the repository is opened: opening it may
	// ping the registry and fetch a token, requests the bound covers too.
	if err := h.acquire(ctx); err != nil {
		return Head{}, err
	}
	defer h.release()
	repo, err := c.Repo(ctx, ep, PullOnly)
	if err != nil {
		return Head{}, err
	}
	return repo.HeadManifest(ctx, endpointRef(ref))
}

// endpointRef is what names ref in a registry URL: its digest when pinned,
// else its tag.
func endpointRef(ref imageref.Ref) string {
	if ref.IsPinned() {
		return ref.Digest().String()
	}
	return ref.Tag()
}

// classify turns a registry's "no such manifest" answers into ErrNotFound.
func classify(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		if terr.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		for _, d := range terr.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return fmt.Errorf("%w: %w", ErrNotFound, err)
			}
		}
	}
	return err
}

// Platforms lists the platforms of the manifest a Head names, fetched by
// digest from the endpoint that resolved it: the platforms of an index's
// children (leaving out attestation manifests, "unknown/unknown"), or a
// single image's own platform from its config. An index is read with its
// nested indexes (WithIndexesOnly), so that a graph apply would refuse is
// refused here.
func (c *Client) Platforms(ctx context.Context, head Head) ([]string, error) {
	h, err := c.host(head.Endpoint)
	if err != nil {
		return nil, err
	}
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.release()
	repo, err := c.Repo(ctx, head.Endpoint, PullOnly)
	if err != nil {
		return nil, err
	}
	tree, err := repo.ReadTree(ctx, head.Digest, WithIndexesOnly())
	if err != nil {
		return nil, err
	}
	var platforms []string
	if tree.IsIndex() {
		platforms = IndexPlatforms(tree.Entries)
	} else {
		cfg, err := repo.readConfig(ctx, tree.Blobs[0])
		if err != nil {
			return nil, err
		}
		if p := cfg.Platform(); p != nil && p.OS != "" {
			platforms = append(platforms, platformString(*p))
		}
	}
	sort.Strings(platforms)
	return platforms, nil
}

// IndexPlatforms lists the platforms of an index's entries, sorted,
// leaving out attestation manifests ("unknown/unknown").
func IndexPlatforms(entries []v1.Descriptor) []string {
	var platforms []string
	for _, m := range entries {
		if p := m.Platform; p != nil && p.OS != "unknown" && p.OS != "" {
			platforms = append(platforms, platformString(*p))
		}
	}
	sort.Strings(platforms)
	return platforms
}

// readConfig fetches and parses an image config blob.
func (r *Repo) readConfig(ctx context.Context, desc v1.Descriptor) (*v1.ConfigFile, error) {
	d := digest.Digest(desc.Digest.String())
	if desc.Size > MaxManifestSize {
		return nil, fmt.Errorf("config %s of %s: %d bytes, larger than the %d bytes allowed: %w", d, r.ep.Repo, desc.Size, MaxManifestSize, ErrLimit)
	}
	rc, err := r.GetBlob(ctx, d, desc.Size)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// Read whole, so that the digest is checked before it is parsed.
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", d, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", d, err)
	}
	return cfg, nil
}

// platformString is os/arch[/variant], the form docker prints; OS version
// and features are left out as they do not select a platform in compose.
func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

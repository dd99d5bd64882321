package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
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
}

// ErrNotFound means no endpoint serves the reference.
var ErrNotFound = errors.New("not found")

// Resolve asks the endpoints of ref, mirrors first, for the digest its tag
// points at, with HEAD requests only (free of Docker Hub pull quota). A
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
				return Head{}, fmt.Errorf("resolve %s: %s serves digest %s for it", ref, ep, h.Digest)
			}
			return h, nil
		}
		if ctx.Err() != nil {
			return Head{}, ctx.Err()
		}
		if !errors.Is(err, ErrNotFound) {
			notFound = false
		}
		c.logger.Debug("endpoint failed", "ref", ref.String(), "endpoint", ep.String(), "err", err)
		errs = append(errs, fmt.Sprintf("%s: %v", ep, err))
	}
	if notFound {
		return Head{}, fmt.Errorf("resolve %s: %w (%s)", ref, ErrNotFound, strings.Join(errs, "; "))
	}
	return Head{}, fmt.Errorf("resolve %s: %s", ref, strings.Join(errs, "; "))
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
	if err := h.acquire(ctx); err != nil {
		return Head{}, err
	}
	defer h.release()
	desc, err := h.puller.Head(ctx, endpointRef(ep, ref))
	if err != nil {
		return Head{}, classify(err)
	}
	return Head{Digest: digest.Digest(desc.Digest.String()), MediaType: string(desc.MediaType), Size: desc.Size, Endpoint: ep}, nil
}

// endpointRef is ref on an endpoint: by digest when pinned, else by tag.
func endpointRef(ep Endpoint, ref imageref.Ref) name.Reference {
	if ref.IsPinned() {
		return ep.Repo.Digest(ref.Digest().String())
	}
	return ep.Repo.Tag(ref.Tag())
}

// classify turns a registry's "no such manifest" answers into ErrNotFound.
func classify(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		if terr.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: %v", ErrNotFound, err)
		}
		for _, d := range terr.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return fmt.Errorf("%w: %v", ErrNotFound, err)
			}
		}
	}
	return err
}

// Platforms lists the platforms of the manifest d names, fetched by digest
// from the endpoint that resolved it: the platforms of an index's children
// (leaving out attestation manifests, "unknown/unknown"), or a single
// image's own platform from its config.
func (c *Client) Platforms(ctx context.Context, head Head) ([]string, error) {
	h, err := c.host(head.Endpoint)
	if err != nil {
		return nil, err
	}
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.release()
	desc, err := h.puller.Get(ctx, head.Endpoint.Repo.Digest(head.Digest.String()))
	if err != nil {
		return nil, fmt.Errorf("fetch manifest %s from %s: %w", head.Digest, head.Endpoint, err)
	}
	var platforms []string
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("read index %s: %w", head.Digest, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("read index %s: %w", head.Digest, err)
		}
		for _, m := range im.Manifests {
			if p := m.Platform; p != nil && p.OS != "unknown" && p.OS != "" {
				platforms = append(platforms, platformString(*p))
			}
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w", head.Digest, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("read config of %s: %w", head.Digest, err)
		}
		if p := cf.Platform(); p != nil && p.OS != "" {
			platforms = append(platforms, platformString(*p))
		}
	}
	sort.Strings(platforms)
	return platforms, nil
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

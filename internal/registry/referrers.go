package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

const ociIndex = "application/vnd.oci.image.index.v1+json"

// ReferrerList is what a repository lists as attached to one manifest.
type ReferrerList struct {
	// Descriptors of the referrers, as listed.
	Descriptors []v1.Descriptor
	// API is true when the registry answered through the OCI referrers
	// API; false when the list is the fallback tag's index (or there was
	// none).
	API bool
	// Fallback is the raw fallback index and its digest, when one was
	// read; nil otherwise.
	Fallback       []byte
	FallbackDigest digest.Digest
}

// FallbackTag is the tag under which registries without the referrers API
// keep the index of subject's referrers: "sha256-<hex>" (OCI distribution
// spec, referrers tag schema).
func FallbackTag(subject digest.Digest) string {
	return strings.Replace(subject.String(), ":", "-", 1)
}

// Referrers lists the manifests attached to subject: through the OCI
// referrers API (GET /v2/<name>/referrers/<digest>) where the registry has
// it, else from the index tagged FallbackTag(subject), as clients write it
// on registries without the API. No index means no referrers.
func (r *Repo) Referrers(ctx context.Context, subject digest.Digest) (ReferrerList, error) {
	resp, err := r.do(ctx, http.MethodGet, r.base+"/referrers/"+subject.String(), nil, http.Header{"Accept": {ociIndex}},
		http.StatusOK, http.StatusNotFound, http.StatusBadRequest, http.StatusNotAcceptable, http.StatusMethodNotAllowed)
	if err != nil {
		return ReferrerList{}, fmt.Errorf("list referrers of %s@%s: %w", r.ep.Repo, subject, err)
	}
	if resp.StatusCode == http.StatusOK && mediaType(resp.Header.Get("Content-Type")) == ociIndex {
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
		if err != nil || len(data) > MaxManifestSize {
			return ReferrerList{}, fmt.Errorf("list referrers of %s@%s: unreadable or larger than %d bytes: %v", r.ep.Repo, subject, MaxManifestSize, err)
		}
		descs, err := indexEntries(data)
		if err != nil {
			return ReferrerList{}, fmt.Errorf("list referrers of %s@%s: %w", r.ep.Repo, subject, err)
		}
		return ReferrerList{Descriptors: descs, API: true}, nil
	}
	resp.Body.Close()
	data, _, d, err := r.GetTagged(ctx, FallbackTag(subject))
	switch {
	case isNotFound(err):
		return ReferrerList{}, nil
	case err != nil:
		return ReferrerList{}, fmt.Errorf("list referrers of %s@%s: %w", r.ep.Repo, subject, err)
	}
	descs, err := indexEntries(data)
	if err != nil {
		return ReferrerList{}, fmt.Errorf("referrers index %s:%s: %w", r.ep.Repo, FallbackTag(subject), err)
	}
	return ReferrerList{Descriptors: descs, Fallback: data, FallbackDigest: d}, nil
}

func indexEntries(data []byte) ([]v1.Descriptor, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse index: %w", err)
	}
	if len(im.Manifests) > MaxIndexEntries {
		return nil, fmt.Errorf("%d entries, more than the %d allowed", len(im.Manifests), MaxIndexEntries)
	}
	return im.Manifests, nil
}

// GetTagged fetches the manifest a tag points at, with its digest. The
// bytes are checked against the Docker-Content-Digest the registry sends.
func (r *Repo) GetTagged(ctx context.Context, tag string) ([]byte, string, digest.Digest, error) {
	resp, err := r.do(ctx, http.MethodGet, r.base+"/manifests/"+tag, nil, http.Header{"Accept": {manifestAccept}}, http.StatusOK)
	if err != nil {
		return nil, "", "", fmt.Errorf("get manifest %s:%s: %w", r.ep.Repo, tag, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, "", "", fmt.Errorf("get manifest %s:%s: %w", r.ep.Repo, tag, err)
	}
	if len(data) > MaxManifestSize {
		return nil, "", "", fmt.Errorf("get manifest %s:%s: %w: larger than the %d bytes allowed", r.ep.Repo, tag, ErrLimit, MaxManifestSize)
	}
	d := digest.FromBytes(data)
	if sent := resp.Header.Get("Docker-Content-Digest"); sent != "" && sent != d.String() {
		return nil, "", "", fmt.Errorf("get manifest %s:%s: %s served content whose digest is %s, not %s", r.ep.Repo, tag, r.ep, d, sent)
	}
	return data, mediaType(resp.Header.Get("Content-Type")), d, nil
}

// Open opens an endpoint's repository for reading, holding one of the
// host's request slots until release is called.
func (c *Client) Open(ctx context.Context, ep Endpoint, access Access) (repo *Repo, release func(), err error) {
	h, err := c.host(ep)
	if err != nil {
		return nil, nil, err
	}
	// The slot is taken before the repository is opened: opening it may
	// ping the registry and fetch a token, requests the bound covers too.
	if err := h.acquire(ctx); err != nil {
		return nil, nil, err
	}
	repo, err = c.Repo(ctx, ep, access)
	if err != nil {
		h.release()
		return nil, nil, err
	}
	return repo, h.release, nil
}

// TargetReferrers lists what ref's target repository holds as attached to
// subject (see Repo.Referrers).
func (c *Client) TargetReferrers(ctx context.Context, ref imageref.Ref, subject digest.Digest) (ReferrerList, error) {
	repo, release, err := c.openTarget(ctx, ref, PullOnly)
	if err != nil {
		return ReferrerList{}, err
	}
	defer release()
	return repo.Referrers(ctx, subject)
}

// TargetHasManifest reports whether ref's target repository holds the
// manifest a tag or digest names, and its digest.
func (c *Client) TargetHasManifest(ctx context.Context, ref imageref.Ref, tagOrDigest string) (digest.Digest, error) {
	repo, release, err := c.openTarget(ctx, ref, PullOnly)
	if err != nil {
		return "", err
	}
	defer release()
	h, err := repo.HeadManifest(ctx, tagOrDigest)
	if err != nil {
		return "", err
	}
	return h.Digest, nil
}

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
// it, its pages followed through their Link headers (at most
// MaxReferrersPages, each on the registry's host, none twice), else from
// the index tagged FallbackTag(subject), as clients write it on registries
// without the API. No index means no referrers. A listing that names the
// subject itself is refused: nothing is its own referrer.
func (r *Repo) Referrers(ctx context.Context, subject digest.Digest) (ReferrerList, error) {
	list, api, err := r.referrersAPI(ctx, subject)
	if err != nil {
		return ReferrerList{}, fmt.Errorf("list referrers of %s@%s: %w", r.ep.Repo, subject, err)
	}
	if !api {
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
		list = ReferrerList{Descriptors: descs, Fallback: data, FallbackDigest: d}
	}
	for _, desc := range list.Descriptors {
		if desc.Digest.String() == subject.String() {
			return ReferrerList{}, fmt.Errorf("referrers of %s@%s: the listing names the subject itself: %w", r.ep.Repo, subject, ErrLimit)
		}
	}
	return list, nil
}

// referrersAPI reads the referrers API's listing of subject, every page;
// api is false when the registry has no referrers API.
func (r *Repo) referrersAPI(ctx context.Context, subject digest.Digest) (list ReferrerList, api bool, err error) {
	next := r.base + "/referrers/" + subject.String()
	seen := map[string]bool{}
	for page := 0; next != ""; page++ {
		if page == MaxReferrersPages {
			return ReferrerList{}, true, fmt.Errorf("more than %d pages (Link headers): %w", MaxReferrersPages, ErrLimit)
		}
		if seen[next] {
			return ReferrerList{}, true, fmt.Errorf("the Link headers loop back to %s: %w", redactURL(next), ErrLimit)
		}
		seen[next] = true
		resp, err := r.do(ctx, http.MethodGet, next, nil, http.Header{"Accept": {ociIndex}},
			http.StatusOK, http.StatusNotFound, http.StatusBadRequest, http.StatusNotAcceptable, http.StatusMethodNotAllowed)
		if err != nil {
			return ReferrerList{}, false, err
		}
		if resp.StatusCode != http.StatusOK || mediaType(resp.Header.Get("Content-Type")) != ociIndex {
			resp.Body.Close()
			if page > 0 {
				return ReferrerList{}, true, fmt.Errorf("page %d answered %s", page+1, resp.Status)
			}
			return ReferrerList{}, false, nil
		}
		descs, err := readListing(resp)
		if err != nil {
			return ReferrerList{}, true, err
		}
		list.Descriptors = append(list.Descriptors, descs...)
		if next, err = r.nextPage(resp); err != nil {
			return ReferrerList{}, true, err
		}
	}
	list.API = true
	return list, true, nil
}

// readListing reads one page of a referrers listing, and closes it.
func readListing(resp *http.Response) ([]v1.Descriptor, error) {
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("a page larger than %d bytes: %w", MaxManifestSize, ErrLimit)
	}
	return indexEntries(data)
}

// nextPage is the URL of the page after resp's (its Link header's
// rel="next", resolved against the request), "" for the last. A next page
// on another host is refused: the listing is the registry's.
func (r *Repo) nextPage(resp *http.Response) (string, error) {
	for _, link := range resp.Header.Values("Link") {
		for _, l := range strings.Split(link, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(l), ";")
			if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
				continue
			}
			u, err := resp.Request.URL.Parse(strings.Trim(strings.TrimSpace(target), "<>"))
			if err != nil {
				return "", fmt.Errorf("unreadable Link header: %w", err)
			}
			if u.Host != resp.Request.URL.Host || u.Scheme != resp.Request.URL.Scheme {
				return "", fmt.Errorf("a Link header names another host, %s: %w", u.Host, ErrLimit)
			}
			return u.String(), nil
		}
	}
	return "", nil
}

func indexEntries(data []byte) ([]v1.Descriptor, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse index: %w", err)
	}
	if len(im.Manifests) > MaxIndexEntries {
		return nil, fmt.Errorf("%d entries, more than the %d allowed: %w", len(im.Manifests), MaxIndexEntries, ErrLimit)
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

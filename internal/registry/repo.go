package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
)

// MaxManifestSize bounds a manifest read into memory; registries refuse
// larger ones too (distribution's limit is 4 MiB).
const MaxManifestSize = 4 << 20

// ManifestAccept lists the manifest media types imagesync reads, so that a
// registry never converts a manifest to an older schema.
var manifestAccept = strings.Join([]string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}, ", ")

// Repo is raw, authenticated access to one repository on one endpoint:
// the registry API calls the copy engine needs, each one request, with
// bodies streamed.
type Repo struct {
	ep     Endpoint
	http   *http.Client
	base   string // scheme://host/v2/<repository>
	host   *host
	logger *slog.Logger
}

// Endpoint is the endpoint this Repo talks to.
func (r *Repo) Endpoint() Endpoint { return r.ep }

// Name is the repository path on its registry ("library/nginx").
func (r *Repo) Name() string { return r.ep.Repo.RepositoryStr() }

// Host is the registry host of the repository ("127.0.0.1:5000").
func (r *Repo) Host() string { return r.ep.Repo.RegistryStr() }

// repoKey identifies a cached authenticated transport.
type repoKey struct {
	repo  string
	scope string
}

// Repo returns access to ep's repository: pull only, or pull and push.
// With push, mountFrom names other repositories of the same registry that
// blobs may be mounted from (their pull scope is requested too).
func (c *Client) Repo(ctx context.Context, ep Endpoint, push bool, mountFrom ...string) (*Repo, error) {
	h, err := c.host(ep)
	if err != nil {
		return nil, err
	}
	scopes := []string{ep.Repo.Scope(transport.PullScope)}
	if push {
		scopes = []string{ep.Repo.Scope(transport.PushScope)}
		for _, from := range mountFrom {
			scopes = append(scopes, "repository:"+from+":pull")
		}
	}
	key := repoKey{repo: ep.Repo.Name(), scope: strings.Join(scopes, " ")}
	h.mu.Lock()
	t, ok := h.auth[key]
	h.mu.Unlock()
	if !ok {
		auth, err := authn.Resolve(ctx, c.opts.keychain, ep.Repo)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s: %w", ep.Repo.RegistryStr(), err)
		}
		t, err = transport.NewWithContext(ctx, ep.Repo.Registry, auth, h.base, scopes)
		if err != nil {
			return nil, fmt.Errorf("authenticate to %s: %w", ep, err)
		}
		h.mu.Lock()
		h.auth[key] = t
		h.mu.Unlock()
	}
	base := fmt.Sprintf("%s://%s/v2/%s", ep.Repo.Scheme(), ep.Repo.RegistryStr(), ep.Repo.RepositoryStr())
	return &Repo{ep: ep, http: &http.Client{Transport: t}, base: base, host: h, logger: c.logger}, nil
}

// do sends one request and returns the response; a status outside ok is an
// error carrying the registry's message (go-containerregistry's
// transport.Error, so that callers can test codes).
func (r *Repo) do(ctx context.Context, method, u string, body io.Reader, header http.Header, ok ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, ok...); err != nil {
		resp.Body.Close()
		return nil, classify(err)
	}
	return resp, nil
}

// HeadManifest returns what a tag or digest points at, or ErrNotFound.
func (r *Repo) HeadManifest(ctx context.Context, ref string) (Head, error) {
	resp, err := r.do(ctx, http.MethodHead, r.base+"/manifests/"+ref, nil, http.Header{"Accept": {manifestAccept}}, http.StatusOK)
	if err != nil {
		return Head{}, fmt.Errorf("HEAD %s:%s: %w", r.ep.Repo, ref, err)
	}
	resp.Body.Close()
	d, err := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		return Head{}, fmt.Errorf("HEAD %s:%s: registry sent no valid Docker-Content-Digest: %w", r.ep.Repo, ref, err)
	}
	return Head{Digest: d, MediaType: mediaType(resp.Header.Get("Content-Type")), Size: resp.ContentLength, Endpoint: r.ep}, nil
}

// GetManifest fetches the manifest d names and checks that its bytes hash
// to d: a mirror serving other content for a digest is refused.
func (r *Repo) GetManifest(ctx context.Context, d digest.Digest) ([]byte, string, error) {
	resp, err := r.do(ctx, http.MethodGet, r.base+"/manifests/"+d.String(), nil, http.Header{"Accept": {manifestAccept}}, http.StatusOK)
	if err != nil {
		return nil, "", fmt.Errorf("get manifest %s@%s: %w", r.ep.Repo, d, err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > MaxManifestSize {
		return nil, "", fmt.Errorf("get manifest %s@%s: %d bytes, larger than the %d bytes allowed", r.ep.Repo, d, resp.ContentLength, MaxManifestSize)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("get manifest %s@%s: %w", r.ep.Repo, d, err)
	}
	if len(data) > MaxManifestSize {
		return nil, "", fmt.Errorf("get manifest %s@%s: larger than the %d bytes allowed", r.ep.Repo, d, MaxManifestSize)
	}
	if got := d.Algorithm().FromBytes(data); got != d {
		return nil, "", fmt.Errorf("get manifest %s@%s: %s served content whose digest is %s", r.ep.Repo, d, r.ep, got)
	}
	return data, mediaType(resp.Header.Get("Content-Type")), nil
}

// PutManifest writes manifest bytes as they are (never re-serialized) under
// a tag or a digest.
func (r *Repo) PutManifest(ctx context.Context, ref, mediaType string, data []byte) error {
	resp, err := r.do(ctx, http.MethodPut, r.base+"/manifests/"+ref, bytes.NewReader(data),
		http.Header{"Content-Type": {mediaType}}, http.StatusCreated, http.StatusOK, http.StatusAccepted)
	if err != nil {
		return fmt.Errorf("put manifest %s:%s: %w", r.ep.Repo, ref, err)
	}
	resp.Body.Close()
	return nil
}

// HasBlob reports whether the repository holds blob d.
func (r *Repo) HasBlob(ctx context.Context, d digest.Digest) (bool, error) {
	resp, err := r.do(ctx, http.MethodHead, r.base+"/blobs/"+d.String(), nil, nil, http.StatusOK)
	if err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("HEAD blob %s@%s: %w", r.ep.Repo, d, err)
	}
	resp.Body.Close()
	return true, nil
}

// GetBlob opens blob d for streaming. The reader fails at its end when the
// bytes do not hash to d, so corrupted content is never passed on whole.
func (r *Repo) GetBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, int64, error) {
	resp, err := r.do(ctx, http.MethodGet, r.base+"/blobs/"+d.String(), nil, nil, http.StatusOK)
	if err != nil {
		return nil, 0, fmt.Errorf("get blob %s@%s: %w", r.ep.Repo, d, err)
	}
	return &verifyingReader{rc: resp.Body, verifier: d.Verifier(), d: d, src: r.ep.String()}, resp.ContentLength, nil
}

// verifyingReader checks a blob's digest as it streams.
type verifyingReader struct {
	rc       io.ReadCloser
	verifier digest.Verifier
	d        digest.Digest
	src      string
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.verifier.Write(p[:n])
	if err == io.EOF && !v.verifier.Verified() {
		return n, fmt.Errorf("blob %s from %s: content does not match its digest", v.d, v.src)
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// Mount asks the registry to mount blob d from another repository of the
// same registry. It returns true when mounted; otherwise the registry has
// opened an upload session, whose location is returned for Upload.
func (r *Repo) Mount(ctx context.Context, d digest.Digest, from string) (bool, string, error) {
	q := url.Values{"mount": {d.String()}, "from": {from}}
	resp, err := r.do(ctx, http.MethodPost, r.base+"/blobs/uploads/?"+q.Encode(), nil, nil, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return false, "", fmt.Errorf("mount blob %s into %s: %w", d, r.ep.Repo, err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		return true, "", nil
	}
	loc, err := r.location(resp)
	return false, loc, err
}

// StartUpload opens an upload session and returns its location.
func (r *Repo) StartUpload(ctx context.Context) (string, error) {
	resp, err := r.do(ctx, http.MethodPost, r.base+"/blobs/uploads/", nil, nil, http.StatusAccepted)
	if err != nil {
		return "", fmt.Errorf("start upload to %s: %w", r.ep.Repo, err)
	}
	resp.Body.Close()
	return r.location(resp)
}

func (r *Repo) location(resp *http.Response) (string, error) {
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("upload to %s: registry sent no Location: %w", r.ep.Repo, err)
	}
	return loc.String(), nil
}

// Upload streams a whole blob into an upload session in one PUT
// (monolithic upload), completing it under digest d.
func (r *Repo) Upload(ctx context.Context, location string, d digest.Digest, size int64, body io.Reader) error {
	u, err := url.Parse(location)
	if err != nil {
		return fmt.Errorf("upload to %s: bad location: %w", r.ep.Repo, err)
	}
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Length", strconv.FormatInt(size, 10))
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("upload blob %s to %s: %w", d, r.ep.Repo, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusCreated); err != nil {
		return fmt.Errorf("upload blob %s to %s: %w", d, r.ep.Repo, err)
	}
	return nil
}

// AcquireTransfer waits for one of the host's blob transfer slots.
func (r *Repo) AcquireTransfer(ctx context.Context) (release func(), err error) {
	select {
	case r.host.transfers <- struct{}{}:
		return func() { <-r.host.transfers }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.TrimSpace(mt)
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

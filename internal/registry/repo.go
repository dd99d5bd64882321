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
	// anonymous is true when no credentials were found for the host, so
	// that a 401 can say so rather than blame the credentials.
	anonymous bool
}

// MaxRedirects bounds the redirects one registry request follows (blob
// downloads are often redirected to storage); more is refused as a loop.
const MaxRedirects = 10

// ErrRedirectLoop is wrapped by the error of a request that was redirected
// more than MaxRedirects times.
var ErrRedirectLoop = errors.New("redirect loop")

// checkRedirect refuses a request's 11th redirect. Go's own limit says
// only "stopped after 10 redirects"; this one says where from.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= MaxRedirects {
		return fmt.Errorf("%w: %s %s was redirected more than %d times", ErrRedirectLoop, via[0].Method, redactURL(via[0].URL.String()), MaxRedirects)
	}
	return nil
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

// Access is what a Repo may do in its repository.
type Access struct {
	// Push asks for pull and push; the zero Access pulls only.
	Push bool
	// MountFrom names other repositories of the same registry that blobs
	// may be mounted from (with Push): their pull scope is requested too.
	MountFrom []string
}

// PullOnly is the access of a Repo that only reads.
var PullOnly = Access{}

// PushAccess is the access of a Repo that writes, mounting nothing.
var PushAccess = Access{Push: true}

// Repo returns access to ep's repository.
func (c *Client) Repo(ctx context.Context, ep Endpoint, access Access) (*Repo, error) {
	h, err := c.host(ep)
	if err != nil {
		return nil, err
	}
	scopes := []string{ep.Repo.Scope(transport.PullScope)}
	if access.Push {
		scopes = []string{ep.Repo.Scope(transport.PushScope)}
		for _, from := range access.MountFrom {
			scopes = append(scopes, "repository:"+from+":pull")
		}
	}
	key := repoKey{repo: ep.Repo.Name(), scope: strings.Join(scopes, " ")}
	h.mu.Lock()
	at, ok := h.auth[key]
	h.mu.Unlock()
	if !ok {
		auth, err := authn.Resolve(ctx, c.opts.keychain, ep.Repo)
		if err != nil {
			// A credential helper's error may quote its output; say only
			// which registry and where credentials come from.
			return nil, fmt.Errorf("credentials for %s from %s: %w", ep.Repo.RegistryStr(), credentialSource(), err)
		}
		anonymous := auth == authn.Anonymous
		if lazyEligible(ep, auth) && !h.pings.known(ep.Repo.Scheme()+"://"+ep.Repo.RegistryStr()) {
			at = authTransport{rt: &lazyAuth{ep: ep, scopes: scopes, host: h}, anonymous: true}
		} else {
			t, err := transport.NewWithContext(ctx, ep.Repo.Registry, auth, h.base, scopes)
			if err != nil {
				return nil, fmt.Errorf("connect: %w", explain(ep, anonymous, err))
			}
			at = authTransport{rt: t, anonymous: anonymous}
		}
		h.mu.Lock()
		h.auth[key] = at
		h.mu.Unlock()
	}
	base := fmt.Sprintf("%s://%s/v2/%s", ep.Repo.Scheme(), ep.Repo.RegistryStr(), ep.Repo.RepositoryStr())
	return &Repo{ep: ep, http: &http.Client{Transport: at.rt, CheckRedirect: checkRedirect}, base: base, host: h,
		logger: c.logger, anonymous: at.anonymous}, nil
}

// authTransport is an authenticated transport for one repository and
// scope, cached per host.
type authTransport struct {
	rt        http.RoundTripper
	anonymous bool // no credentials were found
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
		return nil, r.explain(err)
	}
	if err := checkStatus(resp, ok...); err != nil {
		resp.Body.Close()
		return nil, classify(r.explain(withStatus(resp, err)))
	}
	return resp, nil
}

// explain turns a failed request's error into the one to report: a login
// refused, a certificate not trusted, and never an URL with its query.
func (r *Repo) explain(err error) error { return explain(r.ep, r.anonymous, err) }

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
	return Head{Digest: d, MediaType: mediaType(resp.Header.Get("Content-Type")), Size: resp.ContentLength, Endpoint: r.ep,
		RateLimit: parseRateLimit(resp.Header)}, nil
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
		return nil, "", fmt.Errorf("get manifest %s@%s: %w: %d bytes, larger than the %d bytes allowed", r.ep.Repo, d, ErrLimit, resp.ContentLength, MaxManifestSize)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("get manifest %s@%s: %w", r.ep.Repo, d, err)
	}
	if len(data) > MaxManifestSize {
		return nil, "", fmt.Errorf("get manifest %s@%s: %w: larger than the %d bytes allowed", r.ep.Repo, d, ErrLimit, MaxManifestSize)
	}
	if got := d.Algorithm().FromBytes(data); got != d {
		return nil, "", fmt.Errorf("get manifest %s@%s: %s served content whose digest is %s", r.ep.Repo, d, r.ep, got)
	}
	return data, mediaType(resp.Header.Get("Content-Type")), nil
}

// PutManifest writes manifest bytes as they are (never re-serialized) under
// a tag or a digest.
func (r *Repo) PutManifest(ctx context.Context, ref, mediaType string, data []byte) error {
	_, err := r.PushManifest(ctx, ref, mediaType, data)
	return err
}

// PushManifest is PutManifest that also returns the digest the registry
// says it stored under ref (its Docker-Content-Digest), "" when it says
// none. A registry that names another digest than the bytes' is an error:
// ref would not resolve to what was pushed.
func (r *Repo) PushManifest(ctx context.Context, ref, mediaType string, data []byte) (digest.Digest, error) {
	resp, err := r.do(ctx, http.MethodPut, r.base+"/manifests/"+ref, bytes.NewReader(data),
		http.Header{"Content-Type": {mediaType}}, http.StatusCreated, http.StatusOK, http.StatusAccepted)
	if err != nil {
		return "", fmt.Errorf("put manifest %s:%s: %w", r.ep.Repo, ref, err)
	}
	resp.Body.Close()
	stored, err := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		return "", nil
	}
	if want := stored.Algorithm().FromBytes(data); stored != want {
		return "", fmt.Errorf("put manifest %s:%s: the registry stored %s, not the pushed %s", r.ep.Repo, ref, stored, want)
	}
	return stored, nil
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

// CancelUpload ends an upload session without completing it (DELETE), so
// that a session opened for nothing is not left to the registry's purge.
func (r *Repo) CancelUpload(ctx context.Context, location string) error {
	resp, err := r.do(ctx, http.MethodDelete, location, nil, nil, http.StatusNoContent, http.StatusOK, http.StatusAccepted)
	if err != nil {
		return fmt.Errorf("cancel upload to %s: %w", r.ep.Repo, err)
	}
	resp.Body.Close()
	return nil
}

func (r *Repo) location(resp *http.Response) (string, error) {
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("upload to %s: registry sent no Location: %w", r.ep.Repo, err)
	}
	return loc.String(), nil
}

// Upload streams a whole blob into an upload session in one PUT
// (monolithic upload), completing it under digest d. The body is a stream:
// if the PUT fails, it is not tried again.
func (r *Repo) Upload(ctx context.Context, location string, d digest.Digest, size int64, body io.Reader) error {
	return r.upload(ctx, location, d, size, body, nil)
}

// UploadFrom is Upload with a body that can be opened again: the retry
// layer then tries the PUT again like any other request (a 429 or a 503
// waits for its Retry-After within --max-wait, a reset is tried again),
// each try on a stream of its own from open. open may refuse (return an
// error) when trying again cannot help, for example when the last stream
// broke off on the source's side: the PUT then fails with the last try's
// error.
func (r *Repo) UploadFrom(ctx context.Context, location string, d digest.Digest, size int64, open func() (io.ReadCloser, error)) error {
	body, err := open()
	if err != nil {
		return err
	}
	return r.upload(ctx, location, d, size, body, open)
}

func (r *Repo) upload(ctx context.Context, location string, d digest.Digest, size int64, body io.Reader, again func() (io.ReadCloser, error)) error {
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
	req.GetBody = again
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Length", strconv.FormatInt(size, 10))
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("upload blob %s to %s: %w", d, r.ep.Repo, r.explain(err))
	}
	defer resp.Body.Close()
	if err := checkStatus(resp, http.StatusCreated); err != nil {
		return fmt.Errorf("upload blob %s to %s: %w", d, r.ep.Repo, r.explain(withStatus(resp, err)))
	}
	return nil
}

// AcquireTransfer waits for one of the host's blob transfer slots.
func (r *Repo) AcquireTransfer(ctx context.Context) (release func(), err error) {
	if err := r.host.transfers.acquire(ctx); err != nil {
		return nil, err
	}
	return r.host.transfers.release, nil
}

func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.TrimSpace(mt)
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

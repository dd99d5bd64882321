package registry

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// lazyAuth is the transport of a repository read without credentials on a
// host not pinged yet. go-containerregistry pings "GET /v2/" before the
// first request to learn how to authenticate: a round trip in a row before
// any work, on every host. Without credentials there is nothing to send
// but what the registry asks for, so lazyAuth sends the request itself and
// reads the challenge from its 401, as regclient and containerd do: a
// registry that serves without a token costs no ping; one that wants a
// token (anonymous, as Docker Hub does) answers 401 with the same
// WWW-Authenticate a ping gets, which is kept as the host's ping answer,
// and the request is sent again through go-containerregistry's transport
// built from it (the same round trips as ping first).
//
// It serves only endpoints whose scheme is not in doubt (https, or a
// mirror configured as http://): go-containerregistry settles the scheme
// of a loopback, private or insecure host by pinging both.
type lazyAuth struct {
	ep     Endpoint
	scopes []string
	host   *host

	mu       sync.Mutex
	resolved http.RoundTripper // after a 401: the authenticating transport
}

// lazyEligible reports whether a repository of ep may be read through
// lazyAuth: no credentials, a scheme that needs no ping to settle.
func lazyEligible(ep Endpoint, auth authn.Authenticator) bool {
	return auth == authn.Anonymous && (ep.Repo.Scheme() == "https" || strings.HasPrefix(ep.Mirror, "http://"))
}

// RoundTrip implements http.RoundTripper.
func (l *lazyAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	rt := l.resolved
	l.mu.Unlock()
	if rt != nil {
		return rt.RoundTrip(req)
	}
	resp, err := l.host.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	challenge := resp.Header.Clone()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	// A request whose body cannot be sent again gets the 401 as it came:
	// without credentials the push it belongs to would be refused anyway.
	retry := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return l.unauthorized(req, challenge), nil
		}
		if retry.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	if rt, err = l.resolve(req.Context(), req.URL.Scheme, challenge); err != nil {
		return nil, err
	}
	return rt.RoundTrip(retry)
}

// resolve builds go-containerregistry's transport with the challenge as
// the host's ping answer (unless a real ping answered already).
func (l *lazyAuth) resolve(ctx context.Context, scheme string, challenge http.Header) (http.RoundTripper, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.resolved != nil {
		return l.resolved, nil
	}
	l.host.pings.remember(scheme+"://"+l.ep.Repo.RegistryStr(), &cachedPing{scheme: scheme, status: http.StatusUnauthorized, header: challenge})
	t, err := transport.NewWithContext(ctx, l.ep.Repo.Registry, authn.Anonymous, l.host.base, l.scopes)
	if err != nil {
		return nil, explain(l.ep, true, err)
	}
	l.resolved = t
	return t, nil
}

// unauthorized is the 401 a request got, its body gone.
func (l *lazyAuth) unauthorized(req *http.Request, header http.Header) *http.Response {
	return (&cachedPing{status: http.StatusUnauthorized, header: header}).response(req)
}

package registry

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// credentialGuard is where the rule on credentials is enforced, once, for
// every request a registry's transport sends (go-containerregistry's
// token exchange included, which goes through it): credentials from the
// docker config (a Basic or Bearer Authorization header, or the OAuth form
// that carries an identity token) go only to the registry host itself, to
// a host over https, never to another host over plain http, whatever its
// address form. A registry that names such a token realm gets an error,
// and the realm gets nothing.
//
// go-containerregistry refuses a plain-http realm of a secure registry,
// and IP literals of private ranges; a realm named by a host name
// ("http://localhost:7012/token" for a registry at 127.0.0.1:5000) it
// accepts, and would send the Basic credentials there.
type credentialGuard struct {
	next     http.RoundTripper
	registry string // the registry's host, canonical (canonicalHost)
}

func newCredentialGuard(next http.RoundTripper, scheme, host string) *credentialGuard {
	return &credentialGuard{next: next, registry: canonicalHost(scheme, host)}
}

// RoundTrip implements http.RoundTripper.
func (g *credentialGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && carriesCredentials(req) && canonicalHost(req.URL.Scheme, req.URL.Host) != g.registry {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &CredentialsRefusedError{Registry: g.registry, URL: redactURL(req.URL.String())}
	}
	return g.next.RoundTrip(req)
}

// carriesCredentials reports whether req holds credentials: an
// Authorization header, or a form POST (go-containerregistry's OAuth
// exchange of an identity token, or a password).
func carriesCredentials(req *http.Request) bool {
	if req.Header.Get("Authorization") != "" {
		return true
	}
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	return req.Method == http.MethodPost && mt == "application/x-www-form-urlencoded"
}

// canonicalHost is host:port with the port the scheme implies when none
// is given, the name in lower case without a trailing dot, an IP address
// in its one form (IPv6 compressed, an IPv4-mapped one as IPv4): two
// spellings of one address compare equal, two names never equal an
// address.
func canonicalHost(scheme, hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.Trim(hostport, "[]"), ""
	}
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		host = addr.Unmap().WithZone("").String()
	} else {
		host = strings.TrimSuffix(strings.ToLower(host), ".")
	}
	return net.JoinHostPort(host, port)
}

// CredentialsRefusedError is a registry asking for credentials to be sent
// over plain http to another host (its token realm): imagesync refuses.
type CredentialsRefusedError struct {
	Registry string // the registry, host:port
	URL      string // where they were to go, without the query
}

// Error implements error.
func (e *CredentialsRefusedError) Error() string {
	return fmt.Sprintf("refused to send the credentials for %s to %s: credentials go only to the registry itself or over https, "+
		"never to another host over plain http (a token realm of the registry must be on its host, or use https)", e.Registry, e.URL)
}

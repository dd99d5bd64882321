package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imagesync/imagesync/internal/imageref"
)

// tokenServer answers token requests and records the Authorization
// header and form body each brought ("" for none).
type tokenServer struct {
	mu   sync.Mutex
	got  []string
	seen int
}

func (s *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	s.seen++
	s.got = append(s.got, r.Header.Get("Authorization")+r.PostForm.Get("refresh_token"))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"token":"tok","access_token":"tok"}`))
}

// credentials returns what the server received that carries a credential.
func (s *tokenServer) credentials() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, g := range s.got {
		if g != "" {
			out = append(out, g)
		}
	}
	return out
}

// TestCredentialsOnlyWhereTheyBelong: docker-config credentials go to a
// token realm on the registry's own host or over https, never to another
// host over plain http, whatever its name's spelling; the registry's
// request fails naming the rule and the realm receives nothing.
func TestCredentialsOnlyWhereTheyBelong(t *testing.T) {
	basic := authn.FromConfig(authn.AuthConfig{Username: "user", Password: "s3cret"})
	identity := authn.FromConfig(authn.AuthConfig{IdentityToken: "refresh-s3cret"})
	elsewhere := &tokenServer{}
	other := httptest.NewServer(elsewhere)
	t.Cleanup(other.Close)
	secure := &tokenServer{}
	tlsOther := httptest.NewTLSServer(secure)
	t.Cleanup(tlsOther.Close)
	otherPort := other.URL[strings.LastIndex(other.URL, ":")+1:]
	tlsPort := tlsOther.URL[strings.LastIndex(tlsOther.URL, ":")+1:]

	for _, tc := range []struct {
		name    string
		realm   func(own string) string // own: the registry's host:port
		auth    authn.Authenticator
		server  *tokenServer // where the realm is, when not the registry
		allowed bool
	}{
		{name: "realm by host name over http", realm: func(string) string { return "http://localhost:" + otherPort + "/token" }, auth: basic, server: elsewhere},
		{name: "host name spelled otherwise", realm: func(string) string { return "http://LOCALHOST.:" + otherPort + "/token" }, auth: basic, server: elsewhere},
		{name: "the registry's port under a name", realm: func(own string) string {
			return "http://localhost:" + own[strings.LastIndex(own, ":")+1:] + "/token"
		}, auth: basic},
		{name: "identity token over http", realm: func(string) string { return "http://localhost:" + otherPort + "/token" }, auth: identity, server: elsewhere},
		{name: "IP literal over http", realm: func(string) string { return "http://127.0.0.1:" + otherPort + "/token" }, auth: basic, server: elsewhere},
		{name: "the registry's own host", realm: func(own string) string { return "http://" + own + "/token" }, auth: basic, allowed: true},
		{name: "another host over https", realm: func(string) string { return "https://localhost:" + tlsPort + "/token" }, auth: basic, server: secure, allowed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			own := &tokenServer{}
			var realm string
			reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/token":
					own.ServeHTTP(w, r)
				case r.Header.Get("Authorization") != "Bearer tok":
					w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`",service="test"`)
					w.WriteHeader(http.StatusUnauthorized)
				default:
					w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("a", 64))
					w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				}
			}))
			t.Cleanup(reg.Close)
			realm = tc.realm(hostOf(reg))
			server := tc.server
			if server == nil {
				server = own
			}
			before := len(server.credentials())
			base := http.DefaultTransport.(*http.Transport).Clone()
			base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test's own TLS server
			c := testClient(t, "", "", WithKeychain(staticKeychain{tc.auth}), WithBaseTransport(base))
			_, err := c.HeadTarget(context.Background(), imageref.MustParse(hostOf(reg)+"/a/b:1"))
			got := server.credentials()[before:]
			if tc.allowed {
				if err != nil || len(got) == 0 {
					t.Fatalf("err = %v, credentials received %q; want them sent", err, got)
				}
				return
			}
			if len(got) != 0 {
				t.Errorf("the realm %s received %q", realm, got)
			}
			if err == nil {
				t.Fatal("the request succeeded")
			}
			var refused *CredentialsRefusedError
			if !errors.As(err, &refused) && !strings.Contains(err.Error(), "private or link-local") {
				t.Errorf("err = %v, want the rule (or go-containerregistry's own refusal of an IP literal)", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestCanonicalHost(t *testing.T) {
	for _, tc := range []struct{ scheme, in, want string }{
		{"http", "localhost:5000", "localhost:5000"},
		{"http", "LocalHost.:5000", "localhost:5000"},
		{"http", "registry.example", "registry.example:80"},
		{"https", "registry.example", "registry.example:443"},
		{"http", "[::1]:5000", "[::1]:5000"},
		{"http", "[0:0:0:0:0:0:0:1]:5000", "[::1]:5000"},
		{"http", "[::ffff:127.0.0.1]:5000", "127.0.0.1:5000"},
		{"http", "[fe80::1%eth0]:5000", "[fe80::1]:5000"},
		{"http", "::1", "[::1]:80"},
		{"http", "127.0.0.1", "127.0.0.1:80"},
	} {
		if got := canonicalHost(tc.scheme, tc.in); got != tc.want {
			t.Errorf("canonicalHost(%q, %q) = %q, want %q", tc.scheme, tc.in, got, tc.want)
		}
	}
}

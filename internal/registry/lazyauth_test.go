package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

// tokenMirror is a registry that wants a bearer token for everything but
// its token endpoint when tokens is set (as Docker Hub does even for
// anonymous pulls), and serves without one otherwise. It logs every
// request as "METHOD path [auth]".
type tokenMirror struct {
	*httptest.Server
	mu  sync.Mutex
	log []string
}

func newTokenMirror(t *testing.T, tokens bool) *tokenMirror {
	t.Helper()
	m := &tokenMirror{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := ""
		if r.Header.Get("Authorization") == "Bearer anon-token" {
			auth = " [token]"
		}
		m.mu.Lock()
		m.log = append(m.log, r.Method+" "+r.URL.Path+auth)
		m.mu.Unlock()
		switch {
		case r.URL.Path == "/token":
			_, _ = io.WriteString(w, `{"token":"anon-token"}`)
		case tokens && auth == "":
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="test"`, m.URL))
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/v2/":
		case r.Method == http.MethodPut:
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Docker-Content-Digest", digest.FromBytes(body).String())
			w.WriteHeader(http.StatusCreated)
		default:
			w.Header().Set("Docker-Content-Digest", digest.FromString("m").String())
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		}
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *tokenMirror) requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.log...)
}

// mirrorRepo opens library/<name> of docker.io through mirror m.
func mirrorRepo(t *testing.T, c *Client, name string, access Access) *Repo {
	t.Helper()
	eps, err := c.Endpoints(imageref.MustParse("docker.io/library/" + name + ":1"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Repo(context.Background(), eps[0], access)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLazyAuthNoPing: without credentials, a mirror configured as http://
// is not pinged: a registry that serves without a token gets the requests
// alone; one that wants a token answers the first request 401, whose
// challenge stands for the ping (no GET /v2/ is sent), and the request is
// sent again with the token.
func TestLazyAuthNoPing(t *testing.T) {
	t.Run("no token needed", func(t *testing.T) {
		m := newTokenMirror(t, false)
		c := testClient(t, "", `registry "docker.io" { mirrors = ["`+m.URL+`"] }`)
		for _, name := range []string{"a", "b"} {
			if _, err := mirrorRepo(t, c, name, PullOnly).HeadManifest(context.Background(), "1"); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := strings.Join(m.requests(), ", "), "HEAD /v2/library/a/manifests/1, HEAD /v2/library/b/manifests/1"; got != want {
			t.Errorf("requests: %s, want %s", got, want)
		}
	})
	t.Run("anonymous token", func(t *testing.T) {
		m := newTokenMirror(t, true)
		c := testClient(t, "", `registry "docker.io" { mirrors = ["`+m.URL+`"] }`)
		repo := mirrorRepo(t, c, "a", PullOnly)
		for range 2 {
			if _, err := repo.HeadManifest(context.Background(), "1"); err != nil {
				t.Fatal(err)
			}
		}
		// Another repository of the host: the challenge is known, no ping.
		if _, err := mirrorRepo(t, c, "b", PullOnly).HeadManifest(context.Background(), "1"); err != nil {
			t.Fatal(err)
		}
		want := "HEAD /v2/library/a/manifests/1, GET /token, HEAD /v2/library/a/manifests/1 [token], HEAD /v2/library/a/manifests/1 [token], " +
			"GET /token, HEAD /v2/library/b/manifests/1 [token]"
		if got := strings.Join(m.requests(), ", "); got != want {
			t.Errorf("requests:\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("a body sent again after the 401", func(t *testing.T) {
		m := newTokenMirror(t, true)
		c := testClient(t, "", `registry "docker.io" { mirrors = ["`+m.URL+`"] }`)
		data := []byte(`{"schemaVersion":2}`)
		if err := mirrorRepo(t, c, "a", PushAccess).PutManifest(context.Background(), "1", "application/vnd.oci.image.manifest.v1+json", data); err != nil {
			t.Fatal(err)
		}
		want := "PUT /v2/library/a/manifests/1, GET /token, PUT /v2/library/a/manifests/1 [token]"
		if got := strings.Join(m.requests(), ", "); got != want {
			t.Errorf("requests: %s, want %s", got, want)
		}
	})
}

// TestLazyAuthOnlyWhereSafe: a host whose scheme go-containerregistry
// settles by pinging (loopback without a scheme) and a host with
// credentials are pinged as before.
func TestLazyAuthOnlyWhereSafe(t *testing.T) {
	m := newTokenMirror(t, false)
	host := strings.TrimPrefix(m.URL, "http://")
	c := testClient(t, "", "")
	if _, err := c.HeadTarget(context.Background(), imageref.MustParse(host+"/x/a:1")); err != nil {
		t.Fatal(err)
	}
	if got := m.requests(); len(got) != 2 || got[0] != "GET /v2/" {
		t.Errorf("a loopback target without a scheme: %v, want the ping first", got)
	}
	m2 := newTokenMirror(t, false)
	withCreds := testClient(t, "", `registry "docker.io" { mirrors = ["`+m2.URL+`"] }`, WithKeychain(staticKeychain{&authn.Basic{Username: "robot", Password: "pw"}}))
	if _, err := mirrorRepo(t, withCreds, "a", PullOnly).HeadManifest(context.Background(), "1"); err != nil {
		t.Fatal(err)
	}
	if got := m2.requests(); len(got) != 2 || got[0] != "GET /v2/" {
		t.Errorf("a mirror with credentials: %v, want the ping first", got)
	}
}

// TestLazyAuthRefused: a registry that wants credentials imagesync has
// not is the same AuthError as after a ping.
func TestLazyAuthRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	c := testClient(t, "", `registry "docker.io" { mirrors = ["`+srv.URL+`"] }`)
	_, err := mirrorRepo(t, c, "a", PullOnly).HeadManifest(context.Background(), "1")
	var aerr *AuthError
	if !errors.As(err, &aerr) {
		t.Fatalf("err = %v, want an AuthError", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte(hostOf(srv))) {
		t.Errorf("err = %v, want the host named", err)
	}
}

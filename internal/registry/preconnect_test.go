package registry

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagesync/imagesync/internal/imageref"
)

// TestPreconnect: Preconnect dials connections to the first endpoint of
// each source (a mirror here, once for two images) and sends nothing on
// them; the requests that follow take those connections instead of
// dialling their own.
func TestPreconnect(t *testing.T) {
	var conns, requests atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("a", 64))
		w.WriteHeader(http.StatusOK)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := testClient(t, "", `registry "docker.io" { mirrors = ["`+srv.URL+`"] }`)
	c.Preconnect([]imageref.Ref{imageref.MustParse("docker.io/library/a:1"), imageref.MustParse("docker.io/library/b:1")})
	deadline := time.Now().Add(5 * time.Second)
	for conns.Load() < preconnectPerHost && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // no more come
	if got := conns.Load(); got != preconnectPerHost {
		t.Fatalf("%d connections dialled for one mirror, want %d", got, preconnectPerHost)
	}
	if got := requests.Load(); got != 0 {
		t.Fatalf("%d requests sent by Preconnect, want none", got)
	}
	// A ping and a HEAD, one after the other: both on the connections
	// dialled ahead.
	ep, err := c.Endpoints(imageref.MustParse("docker.io/library/a:1"))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := c.Repo(context.Background(), ep[0], PullOnly)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.HeadManifest(context.Background(), "1"); err != nil {
		t.Fatal(err)
	}
	if got := requests.Load(); got == 0 {
		t.Fatal("no request reached the mirror")
	}
	if got := conns.Load(); got != preconnectPerHost {
		t.Errorf("%d connections after the requests, want the %d dialled ahead", got, preconnectPerHost)
	}
}

package registry

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPingCacheOnePingPerHost(t *testing.T) {
	var pings atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			pings.Add(1)
			time.Sleep(20 * time.Millisecond) // keep the first ping in flight while the others arrive
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	pc := newPingCache(http.DefaultTransport)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/", nil)
			resp, err := pc.RoundTrip(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("ping: %v %v", resp, err)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if n := pings.Load(); n != 1 {
		t.Errorf("%d pings reached the registry, want 1", n)
	}
	// Other requests are never cached.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/x/manifests/1", nil)
	if resp, err := pc.RoundTrip(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("pass-through: %v", err)
	}
}

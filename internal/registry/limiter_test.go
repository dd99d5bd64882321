package registry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
)

func TestLimiter(t *testing.T) {
	l := newLimiter(2)
	ctx := context.Background()
	for range 2 {
		if err := l.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan struct{})
	go func() {
		if err := l.acquire(ctx); err == nil {
			close(got)
		}
	}()
	select {
	case <-got:
		t.Fatal("a third holder got in under a limit of 2")
	case <-time.After(50 * time.Millisecond):
	}
	l.setLimit(3) // raising the limit lets the waiter in
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("raising the limit did not wake the waiter")
	}
	l.setLimit(1) // lowering it: the three holders keep their room...
	l.release()
	l.release()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := l.acquire(short); err == nil {
		t.Fatal("got in with 1 holder under a limit of 1")
	}
	l.release() // ...and once they are gone, one gets in again
	if err := l.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if l.current() != 1 {
		t.Errorf("limit = %d", l.current())
	}
}

// TestFarHostGetsMoreInFlight: a host whose answers take a far round trip
// gets its bounds on requests and transfers multiplied; a near one keeps
// them.
func TestFarHostGetsMoreInFlight(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
		far   bool
	}{{"near", 0, false}, {"far", 2 * FarRoundTrip, true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(tc.delay)
				w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("a", 64))
				w.WriteHeader(http.StatusOK)
			}))
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			cfg, diags := config.Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(`target { registry = "`+host+`/m" }`))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			c := New(cfg, WithKeychain(authn.NewMultiKeychain()), WithJobsPerHost(3), WithTransfersPerHost(2))
			ref := imageref.MustParse(host + "/m/a:1")
			if _, err := c.HeadTarget(context.Background(), ref); err != nil {
				t.Fatal(err)
			}
			ep, _ := c.TargetRepository(ref)
			h, _ := c.host(ep)
			rtt := c.RoundTrip(ep)
			// A loaded machine may answer late even close by: the bounds
			// must follow what was measured, and a server that answers
			// after 2 x FarRoundTrip is always far.
			wantJobs, wantTransfers := 3, 2
			if rtt >= FarRoundTrip {
				wantJobs, wantTransfers = 3*farFactor, 2*farFactor
			}
			if got := h.sem.current(); got != wantJobs {
				t.Errorf("round trip %v: %d requests in flight allowed, want %d", rtt, got, wantJobs)
			}
			if got := h.transfers.current(); got != wantTransfers {
				t.Errorf("round trip %v: %d transfers in flight allowed, want %d", rtt, got, wantTransfers)
			}
			if tc.far && rtt < tc.delay {
				t.Errorf("round trip %v measured for a server answering after %v", rtt, tc.delay)
			}
		})
	}
}

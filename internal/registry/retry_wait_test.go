package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
)

// TestRetryAfterRule checks the one Retry-After rule: a wait up to MaxWait
// is waited for exactly, a longer one fails the request at once with a
// *WaitTooLongError, whatever the status that carries it.
func TestRetryAfterRule(t *testing.T) {
	for _, tt := range []struct {
		name       string
		code       int
		retryAfter string
		maxWait    time.Duration
		wantWaits  []time.Duration
		wantTooBig time.Duration // 0: the request succeeds
	}{
		{"429 within the default", 429, "300", 0, []time.Duration{5 * time.Minute}, 0},
		{"429 beyond the default", 429, "301", 0, nil, 301 * time.Second},
		{"429 of an hour", 429, "3600", 0, nil, time.Hour},
		{"503 beyond a set MaxWait", 503, "3", 2 * time.Second, nil, 3 * time.Second},
		{"503 within a set MaxWait", 503, "2", 2 * time.Second, []time.Duration{2 * time.Second}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, count := rtServe(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				if n > 1 {
					w.WriteHeader(http.StatusOK)
					return
				}
				w.Header().Set("Retry-After", tt.retryAfter)
				http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS"}]}`, tt.code)
			})
			var rec rtRecorder
			rt := NewRetryTransport(rtBase(t, true), rec.policy(RetryPolicy{MaxWait: tt.maxWait}))
			start := time.Now()
			resp, err := rtDo(t, rt, rtGet(t, t.Context(), srv.URL+"/v2/app/manifests/v1?token=secret"))
			waits, _, _ := rec.snapshot()
			var werr *WaitTooLongError
			switch {
			case tt.wantTooBig == 0:
				if err != nil || resp.StatusCode != http.StatusOK || count.Load() != 2 {
					t.Fatalf("got %v, %v after %d requests; want 200 after 2", resp, err, count.Load())
				}
			case !errors.As(err, &werr):
				t.Fatalf("got %v, %v; want a *WaitTooLongError", resp, err)
			default:
				if werr.Wait != tt.wantTooBig || werr.Host != strings.TrimPrefix(srv.URL, "http://") || werr.Path != "/v2/app/manifests/v1" ||
					werr.Status != fmt.Sprintf("%d %s", tt.code, http.StatusText(tt.code)) {
					t.Errorf("error %+v", werr)
				}
				if count.Load() != 1 {
					t.Errorf("%d requests, want 1: a wait beyond MaxWait is not tried again", count.Load())
				}
				if until := time.Until(werr.Until); until < tt.wantTooBig-time.Minute || until > tt.wantTooBig {
					t.Errorf("Until is %v from now, want about %v", until, tt.wantTooBig)
				}
				if strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "--max-wait") {
					t.Errorf("message %q: shows the query, or names no way out", err)
				}
				if time.Since(start) > 10*time.Second {
					t.Errorf("the refusal took %v", time.Since(start))
				}
			}
			if len(waits) != len(tt.wantWaits) || (len(waits) > 0 && waits[0] != tt.wantWaits[0]) {
				t.Errorf("waits %v, want %v", waits, tt.wantWaits)
			}
		})
	}
}

// TestWaitTooLongThroughClient checks that the error reaches a caller of
// the client as itself, through go-containerregistry's transports and the
// http.Client, with WithMaxWait applied.
func TestWaitTooLongThroughClient(t *testing.T) {
	srv, _ := rtServe(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg := &config.Config{}
	c := New(cfg, WithMaxWait(time.Second), WithRetryPolicy(RetryPolicy{Sleep: func(context.Context, time.Duration) error {
		t.Error("the client waited")
		return nil
	}}))
	ref := imageref.MustParse("127.0.0.1:" + strings.Split(host, ":")[1] + "/app@" + digest.FromString("x").String())
	_, err := c.HeadTarget(t.Context(), ref)
	var werr *WaitTooLongError
	if !errors.As(err, &werr) || werr.MaxWait != time.Second || werr.Wait != 2*time.Second {
		t.Fatalf("HeadTarget: %v", err)
	}
}

// Tests of the retry layer: every failure mode runs against an httptest
// server, with Sleep replaced so that no test sleeps through a backoff;
// the only real waits are the short per-try timeouts of the timeout tests.

package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// rtForever is a failure count no test reaches: the server never recovers.
const rtForever = 1 << 30

// rtRecorder stands in for RetryPolicy.Sleep and OnRetry: it records the
// waits and reasons instead of sleeping.
type rtRecorder struct {
	mu      sync.Mutex
	waits   []time.Duration
	reasons []string
	tries   []int
}

func (r *rtRecorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
	return ctx.Err()
}

func (r *rtRecorder) onRetry(_ *http.Request, attempt int, _ time.Duration, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries = append(r.tries, attempt)
	r.reasons = append(r.reasons, reason)
}

// policy returns p recording into r.
func (r *rtRecorder) policy(p RetryPolicy) RetryPolicy {
	p.Sleep, p.OnRetry = r.sleep, r.onRetry
	return p
}

func (r *rtRecorder) snapshot() (waits []time.Duration, reasons []string, tries []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...), append([]string(nil), r.reasons...), append([]int(nil), r.tries...)
}

// rtServe starts a server whose handler gets the 1-based number of each
// request; it returns the server and the request counter.
func rtServe(t *testing.T, h func(n int64, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var count atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(count.Add(1), w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &count
}

// rtBase is a fresh transport for one test, so no pooled connection of
// another test (and net/http's own silent retry of a request that failed
// on a reused connection) skews the request counts.
func rtBase(t *testing.T, keepAlive bool) *http.Transport {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = !keepAlive
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// rtDo sends one request through rt directly (not through an http.Client,
// whose *url.Error would add the full URL to the error).
func rtDo(t *testing.T, rt http.RoundTripper, req *http.Request) (*http.Response, error) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if resp != nil {
		t.Cleanup(func() { _ = resp.Body.Close() })
	}
	return resp, err
}

func rtGet(t *testing.T, ctx context.Context, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// rtCheckJitter fails unless every wait lies in [0, min(max, base*2^n)].
func rtCheckJitter(t *testing.T, waits []time.Duration, base, limit time.Duration) {
	t.Helper()
	for n, w := range waits {
		ceil := min(limit, base<<n)
		if w < 0 || w > ceil {
			t.Errorf("wait %d = %v, want within [0, %v]", n, w, ceil)
		}
	}
}

func TestRetryTransportStatuses(t *testing.T) {
	httpDate := time.Now().Add(5 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		code       int    // status of the failing responses
		failures   int64  // failing responses before a 200
		retryAfter string // Retry-After of the failing responses
		policy     RetryPolicy
		wantReqs   int64
		wantStatus int
		exactWaits []time.Duration // nil: check the jitter bounds instead
		waitRange  [2]time.Duration
	}{
		{name: "503 twice then 200", code: 503, failures: 2, wantReqs: 3, wantStatus: 200},
		{name: "502 then 200", code: 502, failures: 1, wantReqs: 2, wantStatus: 200},
		{name: "504 then 200", code: 504, failures: 1, wantReqs: 2, wantStatus: 200},
		{name: "429 without Retry-After then 200", code: 429, failures: 1, wantReqs: 2, wantStatus: 200},
		{name: "500 forever", code: 500, failures: rtForever,
			policy:   RetryPolicy{Attempts: 4, Base: 100 * time.Millisecond, Max: 300 * time.Millisecond},
			wantReqs: 4, wantStatus: 500},
		{name: "429 Retry-After seconds", code: 429, failures: 1, retryAfter: "2",
			wantReqs: 2, wantStatus: 200, exactWaits: []time.Duration{2 * time.Second}},
		{name: "503 Retry-After seconds", code: 503, failures: 2, retryAfter: "1",
			wantReqs: 3, wantStatus: 200, exactWaits: []time.Duration{time.Second, time.Second}},
		{name: "429 Retry-After HTTP-date", code: 429, failures: 1, retryAfter: httpDate,
			wantReqs: 2, wantStatus: 200, waitRange: [2]time.Duration{3 * time.Second, 5 * time.Second}},
		{name: "429 Retry-After beyond Max, within MaxWait, is waited for", code: 429, failures: 1, retryAfter: "45",
			wantReqs: 2, wantStatus: 200, exactWaits: []time.Duration{45 * time.Second}},
		{name: "429 Retry-After malformed falls back to backoff", code: 429, failures: 1, retryAfter: "soon",
			wantReqs: 2, wantStatus: 200},
		{name: "401 is an answer", code: 401, failures: rtForever, wantReqs: 1, wantStatus: 401},
		{name: "403 is an answer", code: 403, failures: rtForever, wantReqs: 1, wantStatus: 403},
		{name: "404 is an answer", code: 404, failures: rtForever, wantReqs: 1, wantStatus: 404},
		{name: "400 is an answer", code: 400, failures: rtForever, wantReqs: 1, wantStatus: 400},
		{name: "501 is an answer", code: 501, failures: rtForever, wantReqs: 1, wantStatus: 501},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, count := rtServe(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				if n > tt.failures {
					w.WriteHeader(http.StatusOK)
					return
				}
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				http.Error(w, `{"errors":[{"code":"UNAVAILABLE"}]}`, tt.code)
			})
			var rec rtRecorder
			p := rec.policy(tt.policy)
			resp, err := rtDo(t, NewRetryTransport(rtBase(t, true), p), rtGet(t, t.Context(), srv.URL+"/v2/app/manifests/v1"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := count.Load(); got != tt.wantReqs {
				t.Errorf("%d requests, want %d", got, tt.wantReqs)
			}
			waits, reasons, tries := rec.snapshot()
			if int64(len(waits)) != tt.wantReqs-1 && tt.exactWaits == nil {
				t.Errorf("%d waits, want %d", len(waits), tt.wantReqs-1)
			}
			switch full := p.withDefaults(); {
			case tt.exactWaits != nil:
				if !slices.Equal(waits, tt.exactWaits) {
					t.Errorf("waits %v, want %v", waits, tt.exactWaits)
				}
			case tt.waitRange[1] > 0:
				if len(waits) != 1 || waits[0] <= tt.waitRange[0] || waits[0] > tt.waitRange[1] {
					t.Errorf("waits %v, want one in (%v, %v]", waits, tt.waitRange[0], tt.waitRange[1])
				}
			default:
				rtCheckJitter(t, waits, full.Base, full.Max)
			}
			wantReason := fmt.Sprintf("%d %s", tt.code, http.StatusText(tt.code))
			for i := range tries {
				if tries[i] != i+1 || reasons[i] != wantReason {
					t.Errorf("OnRetry %d: attempt %d reason %q, want attempt %d reason %q", i, tries[i], reasons[i], i+1, wantReason)
				}
			}
		})
	}
}

// TestRetryTransportReusesConnection checks that failed responses are
// drained and closed: all tries go over one connection.
func TestRetryTransportReusesConnection(t *testing.T) {
	var count, conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) <= 2 {
			http.Error(w, strings.Repeat("x", 8<<10), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	var rec rtRecorder
	resp, err := rtDo(t, NewRetryTransport(rtBase(t, true), rec.policy(RetryPolicy{})), rtGet(t, t.Context(), srv.URL+"/v2/"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || count.Load() != 3 {
		t.Fatalf("status %d after %d requests, want 200 after 3", resp.StatusCode, count.Load())
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("%d connections, want 1 (failed bodies not drained?)", got)
	}
}

// rtHangUp hijacks the connection of a request and closes it without a
// response: with SO_LINGER 0 the client reads a reset, else an EOF.
func rtHangUp(t *testing.T, w http.ResponseWriter, reset bool) {
	t.Helper()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func TestRetryTransportNetworkFaults(t *testing.T) {
	tests := []struct {
		name       string
		reset      bool
		wantReason string
	}{
		{name: "connection reset", reset: true, wantReason: "connection reset"},
		{name: "EOF before response", reset: false, wantReason: "connection closed before response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, count := rtServe(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				if n <= 2 {
					rtHangUp(t, w, tt.reset)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			var rec rtRecorder
			resp, err := rtDo(t, NewRetryTransport(rtBase(t, false), rec.policy(RetryPolicy{})), rtGet(t, t.Context(), srv.URL+"/v2/"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || count.Load() != 3 {
				t.Fatalf("status %d after %d requests, want 200 after 3", resp.StatusCode, count.Load())
			}
			waits, reasons, _ := rec.snapshot()
			if len(waits) != 2 || !slices.Equal(reasons, []string{tt.wantReason, tt.wantReason}) {
				t.Errorf("waits %v reasons %q, want 2 waits for %q", waits, reasons, tt.wantReason)
			}
			rtCheckJitter(t, waits, defaultRetryBase, defaultRetryMax)
		})
	}
}

// TestRetryTransportRefusedNamesRequest retries a refused connection, then
// fails with an error naming method, host, path and tries, not the query.
func TestRetryTransportRefusedNamesRequest(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := srv.Listener.Addr().String()
	srv.Close()
	const secret = "s3cr3t-t0ken"
	var rec rtRecorder
	rt := NewRetryTransport(rtBase(t, false), rec.policy(RetryPolicy{Attempts: 3}))
	_, err := rtDo(t, rt, rtGet(t, t.Context(), "http://"+host+"/v2/library/nginx/manifests/1.27?token="+secret))
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	msg := err.Error()
	want := "GET " + host + "/v2/library/nginx/manifests/1.27: "
	if !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, " after 3 attempts") {
		t.Errorf("error %q, want %q...after 3 attempts", msg, want)
	}
	if strings.Contains(msg, secret) || strings.Contains(msg, "token=") {
		t.Errorf("error %q shows the query", msg)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v does not wrap ECONNREFUSED", err)
	}
	if waits, reasons, _ := rec.snapshot(); len(waits) != 2 || reasons[0] != "connection refused" {
		t.Errorf("waits %v reasons %q, want 2 for connection refused", waits, reasons)
	}
}

// rtClientTransport sends each try through an http.Client, so that
// Client.Timeout is a per-try limit below the retry layer.
type rtClientTransport struct{ c *http.Client }

func (c rtClientTransport) RoundTrip(r *http.Request) (*http.Response, error) { return c.c.Do(r) }

// TestRetryTransportRetriesPerTryTimeouts: a try that stalls until a
// per-try limit of next fires is retried.
func TestRetryTransportRetriesPerTryTimeouts(t *testing.T) {
	const limit = 50 * time.Millisecond
	tests := []struct {
		name string
		next func(t *testing.T) http.RoundTripper
	}{
		{name: "Transport.ResponseHeaderTimeout", next: func(t *testing.T) http.RoundTripper {
			tr := rtBase(t, false)
			tr.ResponseHeaderTimeout = limit
			return tr
		}},
		{name: "http.Client.Timeout inside next", next: func(t *testing.T) http.RoundTripper {
			return rtClientTransport{&http.Client{Timeout: limit, Transport: rtBase(t, false)}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stall := make(chan struct{})
			srv, count := rtServe(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					select { // until the client gives up (or the test ends)
					case <-r.Context().Done():
					case <-stall:
					}
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			t.Cleanup(func() { close(stall) }) // runs before srv.Close
			var rec rtRecorder
			resp, err := rtDo(t, NewRetryTransport(tt.next(t), rec.policy(RetryPolicy{})), rtGet(t, t.Context(), srv.URL+"/v2/"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || count.Load() != 2 {
				t.Fatalf("status %d after %d requests, want 200 after 2", resp.StatusCode, count.Load())
			}
			if _, reasons, _ := rec.snapshot(); !slices.Equal(reasons, []string{"timeout"}) {
				t.Errorf("reasons %q, want [timeout]", reasons)
			}
		})
	}
}

// TestRetryTransportOuterClientTimeoutStops: http.Client.Timeout above the
// retry layer is the deadline of the request's context, so it bounds all
// tries together; once it passes, no further try is made.
func TestRetryTransportOuterClientTimeoutStops(t *testing.T) {
	stall := make(chan struct{})
	srv, count := rtServe(t, func(_ int64, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stall:
		}
	})
	t.Cleanup(func() { close(stall) })
	var rec rtRecorder
	c := &http.Client{Timeout: 100 * time.Millisecond, Transport: NewRetryTransport(rtBase(t, false), rec.policy(RetryPolicy{}))}
	start := time.Now()
	resp, err := c.Get(srv.URL + "/v2/")
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("no error from a stalled server")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("error %v is not a timeout", err)
	}
	if waits, _, _ := rec.snapshot(); count.Load() != 1 || len(waits) != 0 {
		t.Errorf("%d requests and waits %v, want 1 request and no wait", count.Load(), waits)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestRetryTransportCancelStopsWaiting uses the default Sleep with a one
// hour backoff: canceling the context must end the wait at once.
func TestRetryTransportCancelStopsWaiting(t *testing.T) {
	srv, count := rtServe(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	waiting := make(chan struct{})
	p := RetryPolicy{Base: time.Hour, Max: time.Hour, OnRetry: func(*http.Request, int, time.Duration, string) { close(waiting) }}
	go func() {
		<-waiting
		cancel()
	}()
	start := time.Now()
	_, err := rtDo(t, NewRetryTransport(rtBase(t, true), p), rtGet(t, ctx, srv.URL+"/v2/app/manifests/v1"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "GET 127.0.0.1:") || !strings.HasSuffix(err.Error(), "after 1 attempt") {
		t.Errorf("error %q does not name the request and its tries", err)
	}
	if count.Load() != 1 {
		t.Errorf("%d requests, want 1", count.Load())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v to stop the wait", d)
	}
}

func TestRetryTransportReplaysBody(t *testing.T) {
	payload := bytes.Repeat([]byte("layer-bytes "), 1000)
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch} {
		t.Run(method, func(t *testing.T) {
			var mu sync.Mutex
			var bodies [][]byte
			srv, count := rtServe(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				if err != nil || r.ContentLength != int64(len(payload)) {
					t.Errorf("try %d: body %v, Content-Length %d", n, err, r.ContentLength)
				}
				mu.Lock()
				bodies = append(bodies, b)
				mu.Unlock()
				if n <= 2 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusCreated)
			})
			req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+"/v2/app/blobs/uploads/", bytes.NewReader(payload))
			if err != nil {
				t.Fatal(err)
			}
			var rec rtRecorder
			resp, err := rtDo(t, NewRetryTransport(rtBase(t, true), rec.policy(RetryPolicy{})), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusCreated || count.Load() != 3 {
				t.Fatalf("status %d after %d requests, want 201 after 3", resp.StatusCode, count.Load())
			}
			for i, b := range bodies {
				if !bytes.Equal(b, payload) {
					t.Errorf("try %d sent %d bytes, want the %d of the payload", i+1, len(b), len(payload))
				}
			}
		})
	}
}

// TestRetryTransportNonReplayableBody: a streamed body cannot be sent
// twice, so its failure is returned after one try.
func TestRetryTransportNonReplayableBody(t *testing.T) {
	srv, count := rtServe(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("streamed layer"))
		_ = pw.Close()
	}()
	t.Cleanup(func() { _ = pr.Close() })
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPatch, srv.URL+"/v2/app/blobs/uploads/1", io.NopCloser(pr))
	if err != nil {
		t.Fatal(err)
	}
	if req.GetBody != nil {
		t.Fatal("test request has GetBody")
	}
	var rec rtRecorder
	resp, err := rtDo(t, NewRetryTransport(rtBase(t, true), rec.policy(RetryPolicy{})), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || count.Load() != 1 {
		t.Errorf("status %d after %d requests, want 503 after 1", resp.StatusCode, count.Load())
	}
	if waits, _, _ := rec.snapshot(); len(waits) != 0 {
		t.Errorf("waits %v, want none", waits)
	}
}

// TestGgcrNoRetry proves that ggcr adds its own retries around the
// transport it is given, and that ggcrNoRetry (or each of its options,
// for the failures it covers) leaves ours as the only ones: the HEAD
// requests a remote.Head makes are counted on the registry's side.
func TestGgcrNoRetry(t *testing.T) {
	// ggcr's default backoff really sleeps 1s and 3s: the control rows
	// keep its three steps but make them short.
	fastGgcr := remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3})
	tests := []struct {
		name      string
		opts      []remote.Option
		reset     bool  // hang up instead of answering 503
		failures  int64 // failed manifest HEADs before they succeed
		attempts  int
		wantHeads int64
	}{
		{name: "ggcr defaults retry 503 on top of ours", opts: []remote.Option{fastGgcr}, failures: rtForever, attempts: 2, wantHeads: 6},
		{name: "ggcr defaults retry resets on top of ours", opts: []remote.Option{fastGgcr}, reset: true, failures: rtForever, attempts: 2, wantHeads: 6},
		{name: "ggcrNoRetry, 503 twice then 200", opts: ggcrNoRetry(), failures: 2, attempts: 5, wantHeads: 3},
		{name: "ggcrNoRetry, 503 forever", opts: ggcrNoRetry(), failures: rtForever, attempts: 3, wantHeads: 3},
		{name: "ggcrNoRetry, reset forever", opts: ggcrNoRetry(), reset: true, failures: rtForever, attempts: 3, wantHeads: 3},
		{name: "backoff Steps 1 alone, 503", opts: ggcrNoRetry()[:1], failures: rtForever, attempts: 2, wantHeads: 2},
		{name: "backoff Steps 1 alone, reset", opts: ggcrNoRetry()[:1], reset: true, failures: rtForever, attempts: 2, wantHeads: 2},
		{name: "predicate alone, 503", opts: append([]remote.Option{fastGgcr}, ggcrNoRetry()[1]), failures: rtForever, attempts: 2, wantHeads: 2},
		{name: "predicate alone, reset", opts: append([]remote.Option{fastGgcr}, ggcrNoRetry()[1]), reset: true, failures: rtForever, attempts: 2, wantHeads: 2},
		{name: "no status codes alone, 503", opts: append([]remote.Option{fastGgcr}, ggcrNoRetry()[2]), failures: rtForever, attempts: 2, wantHeads: 2},
		{name: "no status codes alone do not stop reset retries", opts: append([]remote.Option{fastGgcr}, ggcrNoRetry()[2]), reset: true, failures: rtForever, attempts: 2, wantHeads: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag, heads := rtGgcrRegistry(t, tt.failures, tt.reset)
			var rec rtRecorder
			rt := NewRetryTransport(rtBase(t, false), rec.policy(RetryPolicy{Attempts: tt.attempts}))
			opts := append([]remote.Option{remote.WithTransport(rt), remote.WithContext(t.Context())}, tt.opts...)
			_, err := remote.Head(tag, opts...)
			if wantErr := tt.failures >= rtForever; (err != nil) != wantErr {
				t.Errorf("remote.Head error %v, want error %v", err, wantErr)
			}
			if got := heads.Load(); got != tt.wantHeads {
				t.Errorf("%d manifest HEADs, want %d", got, tt.wantHeads)
			}
		})
	}
}

// rtGgcrRegistry serves ggcr's in-memory registry holding one image and
// fails the first failures HEADs of its manifest (503, or a hang-up);
// it returns the image's tag and the count of those HEADs.
func rtGgcrRegistry(t *testing.T, failures int64, reset bool) (name.Tag, *atomic.Int64) {
	t.Helper()
	var heads atomic.Int64
	var armed atomic.Bool // not while the image is pushed
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if armed.Load() && r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/manifests/v1") && heads.Add(1) <= failures {
			if reset {
				rtHangUp(t, w, true)
			} else {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tag, err := name.NewTag(strings.TrimPrefix(srv.URL, "http://")+"/retry/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, remote.WithTransport(rtBase(t, true))); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	return tag, &heads
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 2 ", 2 * time.Second, true},
		{"120", 2 * time.Minute, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999", time.Duration(1<<63 - 1), true},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"Sunday, 01-Jun-25 12:00:09 GMT", 9 * time.Second, true}, // RFC 850, still accepted
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestJitterBounds(t *testing.T) {
	base, limit := 200*time.Millisecond, 30*time.Second
	for n := range 12 {
		ceil := min(limit, base<<n)
		var top time.Duration
		bottom := ceil
		for range 500 {
			d := jitter(base, limit, n)
			if d < ceil/2 || d > ceil {
				t.Fatalf("jitter(n=%d) = %v, want within [%v, %v]", n, d, ceil/2, ceil)
			}
			top, bottom = max(top, d), min(bottom, d)
		}
		// 500 uniform draws all in one half of the range: p = 2^-499.
		if top < ceil*3/4 || bottom > ceil*3/4 {
			t.Errorf("jitter(n=%d) drew within [%v, %v] only, of [%v, %v]: not spread", n, bottom, top, ceil/2, ceil)
		}
	}
	if d := jitter(base, limit, 1000); d > limit {
		t.Errorf("jitter(n=1000) = %v, above Max", d)
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	if p.Attempts != 6 || p.Base != 200*time.Millisecond || p.Max != 30*time.Second || p.MaxWait != 5*time.Minute || p.Sleep == nil {
		t.Errorf("defaults %+v", p)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("default Sleep on a canceled context: %v", err)
	}
}

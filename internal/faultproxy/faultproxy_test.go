package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// backend is a stand-in registry: GET/HEAD serve body, PUT/POST read the
// request body and record its length and the Host header seen.
type backend struct {
	*httptest.Server
	body     []byte
	mu       sync.Mutex
	received []int64
	hosts    []string
	requests atomic.Int64
}

func newBackend(t *testing.T, size int) *backend {
	t.Helper()
	b := &backend{body: bytes.Repeat([]byte("0123456789abcdef"), size/16)}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		b.mu.Lock()
		b.hosts = append(b.hosts, r.Host)
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			b.received = append(b.received, n)
		}
		b.mu.Unlock()
		switch r.Method {
		case http.MethodPut, http.MethodPost:
			w.Header().Set("Location", "http://"+r.Host+"/v2/x/blobs/uploads/1")
			w.WriteHeader(http.StatusCreated)
		default:
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(len(b.body)))
			w.WriteHeader(http.StatusOK)
			if r.Method != http.MethodHead {
				_, _ = w.Write(b.body)
			}
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func start(t *testing.T, b *backend) *Proxy {
	t.Helper()
	p, err := Start(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// client is a plain client that neither retries nor reuses connections
// across a broken one.
func client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
}

const blobPath = "/v2/library/alpine/blobs/sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func get(t *testing.T, c *http.Client, url string) ([]byte, *http.Response, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return body, resp, err
}

func TestPassThroughKeepsHostAndCounts(t *testing.T) {
	b := newBackend(t, 64<<10)
	p := start(t, b)
	body, resp, err := get(t, client(5*time.Second), p.URL()+blobPath)
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, b.body) {
		t.Fatalf("pass-through GET: %v %v (%d bytes)", err, resp, len(body))
	}
	req, _ := http.NewRequest(http.MethodPut, p.URL()+"/v2/library/alpine/blobs/uploads/1?_state=x", bytes.NewReader(make([]byte, 1000)))
	resp, err = client(5 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, p.URL()) {
		t.Errorf("Location %q does not point back at the proxy %s", loc, p.URL())
	}
	// The handler counts after its last write, which the client may see first.
	st := p.Stats()
	for deadline := time.Now().Add(2 * time.Second); st.ResponseBytes != int64(len(b.body)) && time.Now().Before(deadline); st = p.Stats() {
		time.Sleep(10 * time.Millisecond)
	}
	if st.Requests != 2 || st.UploadBytes != 1000 || st.RequestBytes != 1000 || st.ResponseBytes != int64(len(b.body)) || st.Injections != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestStatusSkipTimesAndRetryAfter(t *testing.T) {
	b := newBackend(t, 16)
	p := start(t, b)
	r := p.Add(&Rule{Path: Blobs, Method: http.MethodGet, Skip: 1, Times: 2, Fault: Status, Code: 429, RetryAfter: "1"})
	var codes []int
	for range 5 {
		_, resp, err := get(t, client(5*time.Second), p.URL()+blobPath)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("429 without Retry-After: %v", resp.Header)
		}
	}
	if got := fmt.Sprint(codes); got != "[200 429 429 200 200]" {
		t.Errorf("codes = %s, want 200,429,429,200,200", got)
	}
	if r.Injected() != 2 || len(p.Injections()) != 2 || b.requests.Load() != 3 {
		t.Errorf("injected %d, log %d, backend saw %d requests", r.Injected(), len(p.Injections()), b.requests.Load())
	}
	// Another path is not matched.
	if _, resp, _ := get(t, client(5*time.Second), p.URL()+"/v2/library/alpine/manifests/latest"); resp.StatusCode != 200 {
		t.Errorf("manifest request got %d", resp.StatusCode)
	}
}

func TestResetMidBody(t *testing.T) {
	b := newBackend(t, 1<<20)
	p := start(t, b)
	p.Add(&Rule{Path: Blobs, Times: 1, Fault: Reset, AfterBytes: 100 << 10})
	body, _, err := get(t, client(5*time.Second), p.URL()+blobPath)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v after %d bytes, want a connection reset", err, len(body))
	}
	if len(body) == 0 || len(body) > 100<<10 {
		t.Errorf("read %d bytes before the reset, want some and at most 100 KiB", len(body))
	}
	if body, _, err := get(t, client(5*time.Second), p.URL()+blobPath); err != nil || len(body) != 1<<20 {
		t.Errorf("second GET: %v, %d bytes", err, len(body))
	}
}

func TestTruncate(t *testing.T) {
	b := newBackend(t, 64<<10)
	p := start(t, b)
	p.Add(&Rule{Path: Blobs, Times: 1, Fault: Truncate, AfterBytes: 1000})
	body, _, err := get(t, client(5*time.Second), p.URL()+blobPath)
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != 1000 {
		t.Fatalf("err = %v after %d bytes, want unexpected EOF after 1000", err, len(body))
	}
}

func TestCorrupt(t *testing.T) {
	b := newBackend(t, 4096)
	p := start(t, b)
	p.Add(&Rule{Path: Blobs, Times: 1, Fault: Corrupt, AfterBytes: 10})
	body, _, err := get(t, client(5*time.Second), p.URL()+blobPath)
	if err != nil || len(body) != len(b.body) || bytes.Equal(body, b.body) {
		t.Fatalf("corrupt GET: %v, %d bytes, equal=%t", err, len(body), bytes.Equal(body, b.body))
	}
	if body[10] != b.body[10]^0xff || !bytes.Equal(body[11:], b.body[11:]) {
		t.Error("corruption is not the one flipped byte at offset 10")
	}
}

func TestStallUntilClientTimesOut(t *testing.T) {
	b := newBackend(t, 4096)
	p := start(t, b)
	r := p.Add(&Rule{Path: Blobs, Times: 1, Fault: Stall})
	start := time.Now()
	_, _, err := get(t, client(300*time.Millisecond), p.URL()+blobPath)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a client timeout", err)
	}
	if time.Since(start) > 3*time.Second || r.Injected() != 1 || b.requests.Load() != 0 {
		t.Errorf("stall: %v, injected %d, backend saw %d", time.Since(start), r.Injected(), b.requests.Load())
	}
}

func TestStallBody(t *testing.T) {
	b := newBackend(t, 64<<10)
	p := start(t, b)
	p.Add(&Rule{Path: Blobs, Times: 1, Fault: StallBody, AfterBytes: 512})
	resp, err := client(500 * time.Millisecond).Get(p.URL() + blobPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || len(body) != 512 {
		t.Fatalf("err = %v after %d bytes, want a timeout after 512", err, len(body))
	}
}

func TestResetUpload(t *testing.T) {
	b := newBackend(t, 16)
	p := start(t, b)
	p.Add(&Rule{Path: Uploads, Method: http.MethodPut, Times: 1, Fault: ResetUpload, AfterBytes: 64 << 10})
	payload := make([]byte, 1<<20)
	req, _ := http.NewRequest(http.MethodPut, p.URL()+"/v2/library/alpine/blobs/uploads/1?digest=sha256:00", bytes.NewReader(payload))
	resp, err := client(5 * time.Second).Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("cut upload answered %s", resp.Status)
	}
	if up := p.Stats().UploadBytes; up < 64<<10 || up > 1<<20 {
		t.Errorf("proxy read %d upload bytes, want at least the 64 KiB let through", up)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.received {
		if n == 1<<20 {
			t.Error("the registry received the whole upload")
		}
	}
}

func TestReplaceAndHead(t *testing.T) {
	b := newBackend(t, 16)
	p := start(t, b)
	other := []byte(`{"schemaVersion":2}`)
	p.Add(&Rule{Path: Manifests, Fault: Replace, Body: other, Header: ManifestHeader("application/vnd.oci.image.manifest.v1+json", "sha256:abc")})
	body, resp, err := get(t, client(5*time.Second), p.URL()+"/v2/library/alpine/manifests/latest")
	if err != nil || !bytes.Equal(body, other) || resp.Header.Get("Docker-Content-Digest") != "sha256:abc" {
		t.Fatalf("replace: %v %q %v", err, body, resp.Header)
	}
	req, _ := http.NewRequest(http.MethodHead, p.URL()+"/v2/library/alpine/manifests/latest", nil)
	resp, err = client(5 * time.Second).Do(req)
	if err != nil || resp.ContentLength != int64(len(other)) {
		t.Fatalf("HEAD: %v %v", err, resp)
	}
	resp.Body.Close()
	if b.requests.Load() != 0 {
		t.Errorf("Replace asked the registry %d times", b.requests.Load())
	}
}

func TestRedirectLoop(t *testing.T) {
	b := newBackend(t, 16)
	p := start(t, b)
	p.Add(&Rule{Path: Manifests, Fault: Redirect})
	_, _, err := get(t, client(5*time.Second), p.URL()+"/v2/library/alpine/manifests/latest")
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("err = %v, want Go's redirect limit", err)
	}
}

func TestDelayAndHook(t *testing.T) {
	b := newBackend(t, 16)
	p := start(t, b)
	var hooked atomic.Int64
	p.Add(&Rule{Path: Manifests, Times: 1, Fault: Delay, Delay: 200 * time.Millisecond})
	p.Add(&Rule{Path: Blobs, Fault: Hook, OnInject: func(*http.Request) { hooked.Add(1) }})
	start := time.Now()
	if _, resp, err := get(t, client(5*time.Second), p.URL()+"/v2/library/alpine/manifests/latest"); err != nil || resp.StatusCode != 200 {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("delayed request answered after %v", d)
	}
	if _, resp, err := get(t, client(5*time.Second), p.URL()+blobPath); err != nil || resp.StatusCode != 200 || hooked.Load() != 1 {
		t.Fatalf("hooked request: %v %v, hook ran %d times", err, resp, hooked.Load())
	}
}

func TestBackendDownIsBadGateway(t *testing.T) {
	b := newBackend(t, 16)
	p := start(t, b)
	b.Close()
	_, resp, err := get(t, client(5*time.Second), p.URL()+blobPath)
	if err != nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("registry down: %v %v, want 502", err, resp)
	}
}

func TestSetBackend(t *testing.T) {
	a, b := newBackend(t, 16), newBackend(t, 32)
	p := start(t, a)
	if body, _, err := get(t, client(5*time.Second), p.URL()+blobPath); err != nil || len(body) != 16 {
		t.Fatalf("first backend: %v, %d bytes", err, len(body))
	}
	if err := p.SetBackend(b.URL); err != nil {
		t.Fatal(err)
	}
	if body, _, err := get(t, client(5*time.Second), p.URL()+blobPath); err != nil || len(body) != 32 {
		t.Fatalf("second backend: %v, %d bytes", err, len(body))
	}
	if err := p.SetBackend("https://x"); err == nil {
		t.Error("SetBackend took an https backend")
	}
}

func TestCloseReleasesStalls(t *testing.T) {
	b := newBackend(t, 16)
	p := start(t, b)
	p.Add(&Rule{Fault: Stall})
	errc := make(chan error, 1)
	go func() {
		_, _, err := get(t, client(10*time.Second), p.URL()+blobPath)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = p.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("stalled request succeeded")
		}
	case <-ctx.Done():
		t.Fatal("Close did not release the stalled request")
	}
}

package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

// trickleTransport is a registry that answers every request at once and
// sends a blob's body one byte every gap, never pausing long enough to
// stall.
type trickleTransport struct {
	blob []byte
	gap  time.Duration
}

func (t *trickleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Request: req, Body: http.NoBody, ContentLength: 0}
	if strings.Contains(req.URL.Path, "/blobs/") {
		resp.ContentLength = int64(len(t.blob))
		resp.Header.Set("Content-Length", strconv.Itoa(len(t.blob)))
		resp.Body = &trickle{ctx: req.Context(), data: t.blob, gap: t.gap}
	}
	return resp, nil
}

type trickle struct {
	ctx  context.Context
	data []byte
	gap  time.Duration
	sent int
}

func (b *trickle) Read(p []byte) (int, error) {
	if b.sent == len(b.data) {
		return 0, io.EOF
	}
	select {
	case <-b.ctx.Done():
		return 0, context.Cause(b.ctx)
	case <-time.After(b.gap):
	}
	p[0] = b.data[b.sent]
	b.sent++
	return 1, nil
}

func (b *trickle) Close() error { return nil }

// TestMinimumThroughput: a source that sends a byte every 2 s never trips
// the stall timer (60 s), but fails the download with a *SlowError within
// two periods of it, on the bubble's clock: the whole blob would take
// more than an hour.
func TestMinimumThroughput(t *testing.T) {
	blob := bytes.Repeat([]byte("s"), 2000)
	d := digest.FromBytes(blob)
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, "", "", WithBaseTransport(&trickleTransport{blob: blob, gap: 2 * time.Second}), WithStallTimeout(time.Minute))
		ep, err := c.TargetRepository(imageref.MustParse("127.0.0.1:5000/a/b:1"))
		if err != nil {
			t.Fatal(err)
		}
		repo, err := c.Repo(context.Background(), ep, PullOnly)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		rc, err := repo.GetBlob(context.Background(), d, int64(len(blob)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		took := time.Since(start)
		var slow *SlowError
		if !errors.As(err, &slow) || Transient(err) {
			t.Fatalf("err = %v, want a SlowError, not transient", err)
		}
		if took > 2*time.Minute+2*time.Second || len(got) >= len(blob) {
			t.Errorf("failed after %v (bubble clock) with %d of %d bytes read", took, len(got), len(blob))
		}
		t.Logf("a source sending a byte every 2s failed after %v (bubble clock): %v", took, err)
	})
}

// paced is a request body that sends chunks of size every gap, then
// its last byte after last, then ends. It is only read inside a
// synctest bubble: its sleeps are the slow link being simulated on the
// bubble's fake clock (they take no wall time), not a way of ordering
// events; the order comes from the bubble, which runs the reader and the
// stall timer only when every goroutine is blocked.
type paced struct {
	chunks, size int
	gap, last    time.Duration
	sent         int
}

func (p *paced) Read(b []byte) (int, error) {
	switch {
	case p.sent > p.chunks:
		return 0, io.EOF
	case p.sent == p.chunks:
		time.Sleep(p.last)
		p.sent++
		b[0] = 'z'
		return 1, nil
	}
	time.Sleep(p.gap)
	p.sent++
	return copy(b[:min(len(b), p.size)], bytes.Repeat([]byte("p"), p.size)), nil
}

// slowToAnswer reads a request's body and answers a while later, as a
// registry checks an upload's digest.
type slowToAnswer struct{ think time.Duration }

func (s slowToAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, req.Body)
	select {
	case <-req.Context().Done():
		return nil, context.Cause(req.Context())
	case <-time.After(s.think):
	}
	return &http.Response{StatusCode: http.StatusCreated, Body: http.NoBody, Request: req}, nil
}

// TestMinimumThroughputEndsWithTheBody: the rule measures a body while it
// moves; an upload whose last period carried a byte only, answered 58 s
// later (within the stall timeout), is not too slow. (Chunks at 5..50 s,
// the last byte at 70 s, in the period from 65 s; the answer at 128 s,
// after that period ended at 125 s.)
func TestMinimumThroughputEndsWithTheBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &stallGuard{next: slowToAnswer{think: 58 * time.Second}, idle: time.Minute, minRate: DefaultMinThroughput}
		body := &paced{chunks: 10, size: 10 << 10, gap: 5 * time.Second, last: 20 * time.Second}
		req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:5000/v2/a/b/blobs/uploads/1", body)
		req.ContentLength = 10*10<<10 + 1
		resp, err := g.RoundTrip(req)
		if err != nil {
			t.Fatalf("an upload answered 58 s after its last byte: %v", err)
		}
		resp.Body.Close()
	})
}

package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
)

// cutAfter writes the headers (full Content-Length) and n bytes of body,
// then resets the connection.
func cutAfter(t *testing.T, w http.ResponseWriter, body []byte, n int) {
	t.Helper()
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body))
	_, _ = buf.Write(body[:n])
	_ = buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// TestBlobDownloadResumes: a download cut off in the middle is resumed
// where it stopped, with a Range request (or from the start, skipping what
// was read, when the registry ignores ranges), and the reader passes on
// exactly the blob's bytes; a cut that outlives the retries, or the wrong
// bytes, is an error.
func TestBlobDownloadResumes(t *testing.T) {
	blob := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	d := digest.FromBytes(blob)
	for _, tc := range []struct {
		name      string
		cuts      int  // downloads cut off, one after the other
		ranges    bool // the registry honours Range
		corrupt   bool
		wantErr   error
		wantTries int
	}{
		{name: "one cut", cuts: 1, ranges: true, wantTries: 2},
		{name: "three cuts", cuts: 3, ranges: true, wantTries: 4},
		{name: "range ignored", cuts: 2, ranges: false, wantTries: 3},
		{name: "cut every time", cuts: 100, ranges: true, wantErr: syscall.ECONNRESET, wantTries: 6},
		{name: "wrong bytes are not resumed", corrupt: true, wantErr: ErrDigestMismatch, wantTries: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			srv, _ := fakeRegistry(t, false, func(n int64, w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.Header.Get("Range"))
				mu.Unlock()
				start := 0
				if rg := r.Header.Get("Range"); rg != "" && tc.ranges {
					start, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
				}
				body := blob[start:]
				if tc.corrupt {
					body = append([]byte{'X'}, body[1:]...)
				}
				if int(n) <= tc.cuts {
					cutAfter(t, w, body, min(len(body)/3, 100<<10))
					return
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				if start > 0 {
					w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(blob)-1, len(blob)))
					w.WriteHeader(http.StatusPartialContent)
				}
				_, _ = w.Write(body)
			})
			c := testClient(t, "", "")
			rc, err := repoOn(t, c, srv).GetBlob(context.Background(), d, int64(len(blob)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("err = %v, want %v", err, tc.wantErr)
				}
				if len(got) == len(blob) {
					t.Error("a failed download passed the whole blob on")
				}
			} else if err != nil || !bytes.Equal(got, blob) {
				t.Errorf("read %d bytes (err %v), want the blob's %d", len(got), err, len(blob))
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != tc.wantTries {
				t.Errorf("%d downloads (ranges %q), want %d", len(seen), seen, tc.wantTries)
			}
			for i, rg := range seen[1:] {
				if rg == "" || rg == "bytes=0-" {
					t.Errorf("resumption %d asked for %q, not the rest", i+1, rg)
				}
			}
		})
	}
}

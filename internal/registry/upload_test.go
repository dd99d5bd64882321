package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// TestUploadFromRetried: a PUT answered 429 or 503 is tried again by the
// retry layer, after its Retry-After, each try on a fresh stream; a
// Retry-After beyond the longest wait stops at once with the wait; an open
// that refuses ends the tries.
func TestUploadFromRetried(t *testing.T) {
	blob := bytes.Repeat([]byte("b"), 300<<10)
	d := digest.FromBytes(blob)
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		refuse     bool // open refuses the second stream
		wantOpens  int
		wantErr    bool
		wantWait   bool
	}{
		{name: "429 then ok", status: 429, retryAfter: "1", wantOpens: 2},
		{name: "503 then ok", status: 503, wantOpens: 2},
		{name: "open refuses", status: 503, refuse: true, wantOpens: 2, wantErr: true},
		{name: "wait too long", status: 429, retryAfter: "3600", wantOpens: 1, wantErr: true, wantWait: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got atomic.Value
			srv, _ := fakeRegistry(t, false, func(n int64, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					_, _ = io.Copy(io.Discard, r.Body)
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.WriteHeader(tc.status)
					return
				}
				body, _ := io.ReadAll(r.Body)
				got.Store(body)
				if r.URL.Query().Get("digest") != d.String() {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				w.WriteHeader(http.StatusCreated)
			})
			var waits []time.Duration
			policy := RetryPolicy{Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }, MaxWait: time.Minute}
			c := testClient(t, "", "", WithRetryPolicy(policy))
			opens := 0
			open := func() (io.ReadCloser, error) {
				opens++
				if tc.refuse && opens > 1 {
					return nil, errors.New("the source broke off")
				}
				return io.NopCloser(bytes.NewReader(blob)), nil
			}
			err := repoOn(t, c, srv).UploadFrom(context.Background(), srv.URL+"/v2/a/b/blobs/uploads/s1?_state=x", d, int64(len(blob)), open)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			var wait *WaitTooLongError
			if errors.As(err, &wait) != tc.wantWait {
				t.Errorf("err = %v, want a WaitTooLongError: %v", err, tc.wantWait)
			}
			if opens != tc.wantOpens {
				t.Errorf("%d streams opened, want %d", opens, tc.wantOpens)
			}
			if !tc.wantErr {
				if b, _ := got.Load().([]byte); !bytes.Equal(b, blob) {
					t.Errorf("the registry got %d bytes, want the blob's %d", len(b), len(blob))
				}
				if tc.retryAfter == "1" && (len(waits) != 1 || waits[0] != time.Second) {
					t.Errorf("waited %v, want the Retry-After's 1s", waits)
				}
			}
		})
	}
}

// TestPushManifestDigest: the digest the registry says it stored comes
// back; one that does not match the bytes is an error.
func TestPushManifestDigest(t *testing.T) {
	data := []byte(`{"schemaVersion":2}`)
	d := digest.FromBytes(data)
	for _, tc := range []struct {
		name, header string
		want         digest.Digest
		wantErr      bool
	}{
		{"stored", d.String(), d, false},
		{"no header", "", "", false},
		{"other digest", "sha256:" + strings.Repeat("0", 64), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := fakeRegistry(t, false, func(_ int64, w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Docker-Content-Digest", tc.header)
				}
				w.WriteHeader(http.StatusCreated)
			})
			got, err := repoOn(t, testClient(t, "", ""), srv).PushManifest(context.Background(), "1", "application/vnd.oci.image.manifest.v1+json", data)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("PushManifest = %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"503 after the tries", &StatusError{Status: "503 Service Unavailable", Attempts: 6, Err: errors.New("x")}, true},
		{"reset", fmt.Errorf("put: %w", syscall.ECONNRESET), true},
		{"refused", syscall.ECONNREFUSED, true},
		{"stall", &StallError{What: "GET x", Idle: time.Second}, true},
		{"wait too long", &WaitTooLongError{Status: "429 Too Many Requests", Wait: time.Hour}, false},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false},
		{"not found", ErrNotFound, false},
		{"wrong bytes", ErrDigestMismatch, false},
		{"too slow", &SlowError{What: "GET x", Moved: 30, Period: time.Minute, Min: 1024}, false},
		{"wrong size", &BlobSizeError{Want: 1, Got: 2}, false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("%s: Transient = %v", tc.name, got)
		}
	}
}

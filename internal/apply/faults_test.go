package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/diff"
	isregistry "github.com/imagesync/imagesync/internal/registry"
)

// journal is one ordered log of the requests several servers got.
type journal struct {
	mu      sync.Mutex
	entries []string // "server METHOD path"
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.entries = append(j.entries, s)
	j.mu.Unlock()
}

// matching returns the entries that contain sub, in order.
func (j *journal) matching(sub string) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, e := range j.entries {
		if strings.Contains(e, sub) {
			out = append(out, e)
		}
	}
	return out
}

// mirrorServer is an in-process registry named name that logs to jr and
// flips a byte of every download of the blobs in corrupt.
func mirrorServer(t *testing.T, name string, jr *journal, corrupt map[string]bool) *recorder {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r := &recorder{corrupt: corrupt}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		jr.add(name + " " + req.Method + " " + req.URL.Path)
		for d := range corrupt {
			if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/blobs/"+d) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				body := rec.Body.Bytes()
				body[len(body)/2] ^= 0xff
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(body)
				return
			}
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

// newEngine is an engine for the config hcl, with registry options.
func newEngine(t *testing.T, hcl string, regOpts []isregistry.Option, opts ...Option) *Engine {
	t.Helper()
	cfg, diags := config.Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(hcl))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	regOpts = append([]isregistry.Option{isregistry.WithKeychain(authn.NewMultiKeychain())}, regOpts...)
	return New(isregistry.New(cfg, regOpts...), opts...)
}

// TestRefetchOnCorruption: a blob whose bytes fail the digest check is
// fetched again from the same source as often as the retry layer tries a
// request (6 times by default), then from the next source in order, and
// the image lands on the first try with the right bytes; when every
// source serves other bytes, the image fails naming it and the target
// never receives the blob.
func TestRefetchOnCorruption(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mirrors    int // the first mirrors serve the layer corrupted, the last one right
		allBad     bool
		wantOrder  []string
		wantFailed bool
	}{
		{name: "next mirror", mirrors: 3, wantOrder: slices.Concat(repeat("m1", 6), repeat("m2", 6), []string{"m3"})},
		{name: "every source bad", mirrors: 2, allBad: true, wantOrder: slices.Concat(repeat("m1", 6), repeat("m2", 6)), wantFailed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jr := &journal{}
			layer, _ := random.Layer(64<<10, types.OCILayer)
			ld, _ := layer.Digest()
			idx := twoPlatformIndex(t, layer)
			var urls []string
			var d string
			for i := range tc.mirrors {
				bad := map[string]bool{}
				if i < tc.mirrors-1 || tc.allBad {
					bad[ld.String()] = true
				}
				m := mirrorServer(t, fmt.Sprintf("m%d", i+1), jr, bad)
				d = push(t, m.host()+"/library/x:1", idx)
				urls = append(urls, `"`+m.URL+`"`)
			}
			dst := newRecorder(t)
			hcl := `target { registry = "` + dst.host() + `/mirror" }
registry "docker.io" { mirrors = [` + strings.Join(urls, ", ") + `] }`
			jr.mu.Lock()
			jr.entries = nil // the pushes
			jr.mu.Unlock()
			r := newEngine(t, hcl, instantRetries()).Apply(context.Background(), []diff.Change{change("docker.io/library/x:1", dst.host()+"/mirror/x:1", d)})
			var order []string
			for _, e := range jr.matching("GET /v2/library/x/blobs/" + ld.String()) {
				order = append(order, strings.Fields(e)[0])
			}
			if strings.Join(order, " ") != strings.Join(tc.wantOrder, " ") {
				t.Errorf("the layer was fetched from %v, want %v", order, tc.wantOrder)
			}
			if tc.wantFailed {
				if err := r[0].Err; !errors.Is(err, isregistry.ErrDigestMismatch) || !strings.Contains(err.Error(), "does not match its digest") {
					t.Errorf("err = %v, want the digest mismatch", err)
				}
				resp, err := http.Head(dst.URL + "/v2/mirror/x/blobs/" + ld.String())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("the target holds the layer no source served right: %s", resp.Status)
				}
				return
			}
			if r[0].Err != nil {
				t.Fatal(r[0].Err)
			}
			checkMirrored(t, []diff.Change{r[0].Change})
		})
	}
}

// repeat is n copies of s.
func repeat(s string, n int) []string { return slices.Repeat([]string{s}, n) }

// instantRetries are the registry options of a test that counts retries,
// not their waits: the default policy, waits made at once.
func instantRetries() []isregistry.Option {
	return []isregistry.Option{isregistry.WithRetryPolicy(isregistry.RetryPolicy{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})}
}

// throttledTarget answers the first upload PUT of a blob with status and
// Retry-After, then behaves.
func throttledTarget(t *testing.T, status int, retryAfter string) (*recorder, *atomic.Int64) {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var refused atomic.Int64
	r := &recorder{corrupt: map[string]bool{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, req.Method+" "+req.URL.RequestURI())
		r.mu.Unlock()
		if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/uploads/") && refused.CompareAndSwap(0, 1) {
			_, _ = io.Copy(io.Discard, req.Body)
			w.Header().Set("Retry-After", retryAfter)
			w.WriteHeader(status)
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	return r, &refused
}

// TestUploadRetryAfter: an upload answered 429 or 503 with Retry-After is
// tried again after the wait, into the same session, on the first run; a
// wait longer than allowed stops the run cleanly instead.
func TestUploadRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		wantStop   bool
	}{
		{"429", http.StatusTooManyRequests, "2", false},
		{"503", http.StatusServiceUnavailable, "1", false},
		{"longer than allowed", http.StatusTooManyRequests, "3600", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newRecorder(t)
			dst, refused := throttledTarget(t, tc.status, tc.retryAfter)
			var changes []diff.Change
			for _, name := range []string{"a", "b"} {
				d := push(t, src.host()+"/library/"+name+":1", twoPlatformIndex(t, mustLayer(t)))
				changes = append(changes, change("docker.io/library/"+name+":1", dst.host()+"/mirror/"+name+":1", d))
			}
			var mu sync.Mutex
			var waits []time.Duration
			policy := isregistry.RetryPolicy{Sleep: func(_ context.Context, d time.Duration) error {
				mu.Lock()
				waits = append(waits, d)
				mu.Unlock()
				return nil
			}, MaxWait: time.Minute}
			hcl := `target { registry = "` + dst.host() + `/mirror" }
registry "docker.io" { mirrors = ["` + src.URL + `"] }`
			results := newEngine(t, hcl, []isregistry.Option{isregistry.WithRetryPolicy(policy)}, WithParallelism(1)).Apply(context.Background(), changes)
			if refused.Load() != 1 {
				t.Fatal("no upload was refused")
			}
			if tc.wantStop {
				var wait *isregistry.WaitTooLongError
				if !errors.As(results[0].Err, &wait) || !errors.Is(results[1].Err, ErrNotStarted) {
					t.Errorf("results: %v; %v; want the wait, then not started", results[0].Err, results[1].Err)
				}
				return
			}
			for _, r := range results {
				if r.Err != nil {
					t.Fatalf("%s: %v", r.Change.Target, r.Err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			want := map[string]time.Duration{"2": 2 * time.Second, "1": time.Second}[tc.retryAfter]
			if len(waits) != 1 || waits[0] != want {
				t.Errorf("waited %v, want one Retry-After of %v", waits, want)
			}
			// Tried again into the same session: one POST per uploaded blob.
			uploaded := results[0].BlobsUploaded + results[1].BlobsUploaded
			if posts := dst.count("POST ", "/blobs/uploads/"); posts != uploaded {
				t.Errorf("%d upload sessions for %d uploads", posts, uploaded)
			}
			checkMirrored(t, changes)
		})
	}
}

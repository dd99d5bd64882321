package apply

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagesync/imagesync/internal/diff"
)

// flakySource is an in-process registry, the only source of its images,
// that flips a byte in the blob downloads bad picks (same length, another
// digest), as a faulty proxy or disk in front of a registry would.
type flakySource struct {
	*recorder
	gets    atomic.Int64 // blob downloads
	flipped atomic.Int64 // of which corrupted
}

func newFlakySource(t *testing.T, bad func(n int64, path string) bool) *flakySource {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s := &flakySource{recorder: &recorder{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/blobs/sha256:") || !bad(s.gets.Add(1), req.URL.Path) {
			h.ServeHTTP(w, req)
			return
		}
		s.flipped.Add(1)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.Bytes()
		body[len(body)/2] ^= 0xff
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// firstDownloads picks the first n downloads of each blob.
func firstDownloads(n int) func(int64, string) bool {
	var mu sync.Mutex
	seen := map[string]int{}
	return func(_ int64, path string) bool {
		mu.Lock()
		defer mu.Unlock()
		seen[path]++
		return seen[path] <= n
	}
}

// TestBadBytesAbsorbed: a source that serves bad bytes now and then, and
// is the only source, fails no image: bad bytes are a transient fault,
// fetched again with the retry layer's backoff and budget (6 tries), so
// that every image lands on the first run with the right bytes. Before,
// a blob was fetched once more, then the image failed: the second row
// failed every image.
func TestBadBytesAbsorbed(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  func(n int64, path string) bool
	}{
		{name: "every 3rd blob download", bad: func(n int64, _ string) bool { return n%3 == 0 }},
		{name: "the first 3 downloads of each blob", bad: firstDownloads(3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newFlakySource(t, tc.bad)
			dst := newRecorder(t)
			var changes []diff.Change
			for _, name := range []string{"x", "y", "z"} {
				layer, err := random.Layer(32<<10, types.OCILayer)
				if err != nil {
					t.Fatal(err)
				}
				d := push(t, src.host()+"/library/"+name+":1", twoPlatformIndex(t, layer))
				changes = append(changes, change(src.host()+"/library/"+name+":1", dst.host()+"/mirror/"+name+":1", d))
			}
			src.gets.Store(0)
			src.flipped.Store(0)
			e := newEngine(t, `target { registry = "`+dst.host()+`/mirror" }`, nil)
			results := e.Apply(context.Background(), changes)
			for _, r := range results {
				if r.Err != nil {
					t.Errorf("%s: %v", r.Change.Target, r.Err)
				}
			}
			// 3 images of 5 blobs each: 2 configs, 2 layers of their own,
			// and a base layer.
			const blobs = 15
			flipped, gets := src.flipped.Load(), src.gets.Load()
			if flipped == 0 || gets != blobs+flipped {
				t.Errorf("%d blob downloads, %d of them corrupted: want %d blobs fetched once each, plus once per corrupted download", gets, flipped, blobs)
			}
			t.Logf("%d blob downloads, %d corrupted", gets, flipped)
			checkMirrored(t, changes)
		})
	}
}

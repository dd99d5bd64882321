package apply

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/imagesync/imagesync/internal/diff"
	isregistry "github.com/imagesync/imagesync/internal/registry"
)

// TestStopOnLongRetryAfter: a source that asks for an hour's pause on one
// image stops the run cleanly: that image fails with the wait, the images
// after it are not started (one at a time here), and nothing of them
// reaches the target.
func TestStopOnLongRetryAfter(t *testing.T) {
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	throttled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/library/b/manifests/") && r.Method == http.MethodGet {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(throttled.Close)
	src := &recorder{Server: throttled}
	dst := newRecorder(t)
	var changes []diff.Change
	for _, name := range []string{"a", "b", "c", "d"} {
		idx, err := random.Index(512, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		d := push(t, src.host()+"/library/"+name+":1", idx)
		changes = append(changes, change("docker.io/library/"+name+":1", dst.host()+"/mirror/"+name+":1", d))
	}
	results := engine(t, src, dst, WithParallelism(1)).Apply(context.Background(), changes)
	var wait *isregistry.WaitTooLongError
	if results[0].Err != nil {
		t.Errorf("a: %v", results[0].Err)
	}
	if err := results[1].Err; !errors.As(err, &wait) || errors.Is(err, ErrNotStarted) {
		t.Errorf("b: %v, want the wait", err)
	}
	for _, r := range results[2:] {
		if !errors.Is(r.Err, ErrNotStarted) || !errors.As(r.Err, &wait) || r.Change.Source.Path() == "" {
			t.Errorf("%s: %v, want not started, naming the wait", r.Change.Source, r.Err)
		}
	}
	for _, name := range []string{"b", "c", "d"} {
		if n := dst.count("PUT", "/mirror/"+name+"/"); n != 0 {
			t.Errorf("%d PUTs into %s after the stop", n, name)
		}
	}
	if dst.count("PUT", "/mirror/a/manifests/1") != 1 {
		t.Error("a was not copied")
	}
}

package apply

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagesync/imagesync/internal/diff"
)

// TestApplyTwice: what one Apply learns stays with it, so that Apply may
// be called again on one Engine, and from two goroutines at once (run
// with -race). A later Apply asks the target again rather than trust what
// an earlier one saw there: a blob the target lost in between is sent
// again, not taken as present.
func TestApplyTwice(t *testing.T) {
	src, dst := newRecorder(t), newRecorder(t)
	base, err := random.Layer(4096, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	bd, _ := base.Digest()
	image := func(repo, tag string) diff.Change {
		d := push(t, src.host()+"/library/"+repo+":1", twoPlatformIndex(t, base))
		return change("docker.io/library/"+repo+":1", dst.host()+"/mirror/"+tag, d)
	}
	e := engine(t, src, dst)
	apply := func(changes ...diff.Change) {
		t.Helper()
		for _, r := range e.Apply(context.Background(), changes) {
			if r.Err != nil {
				t.Errorf("%s: %v", r.Change.Target, r.Err)
			}
		}
		checkMirrored(t, changes)
	}

	apply(image("a", "x:1"))
	// The target loses the shared base layer (a garbage collection).
	req, _ := http.NewRequest(http.MethodDelete, dst.URL+"/v2/mirror/x/blobs/"+bd.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE of the base layer: %s", resp.Status)
	}
	dst.reset()
	apply(image("b", "x:2"))
	if n := dst.count("PUT ", "digest="+escaped(bd.String())); n != 1 {
		t.Errorf("the second Apply uploaded the base layer the target lost %d times, want 1", n)
	}

	// Two at once, into repositories of their own.
	var wg sync.WaitGroup
	for _, repo := range []string{"c", "d"} {
		c := image(repo, repo+":1")
		wg.Go(func() { apply(c) })
	}
	wg.Wait()
}

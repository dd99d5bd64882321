package e2e

// Concurrency: two "imagesync apply" runs at once against the same target
// both end with the target matching the lock; two "imagesync lock" runs at
// once never leave a torn or mixed images.lock, and neither undoes the
// other's changes.

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/faultproxy"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// runBoth runs two imagesync commands in the rig at the same time.
func (r *rig) runBoth(a, b []string) (result, result) {
	r.t.Helper()
	env := append([]string{"DOCKER_CONFIG=" + r.t.TempDir()}, r.env...)
	var ra, rb result
	var erra, errb error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ra, erra = execImagesync(r.dir, env, a...) }()
	go func() { defer wg.Done(); rb, errb = execImagesync(r.dir, env, b...) }()
	wg.Wait()
	if erra != nil || errb != nil {
		r.t.Fatalf("run imagesync: %v %v", erra, errb)
	}
	return ra, rb
}

func TestConcurrentApply(t *testing.T) {
	imgs := rigImages()
	src := testregistry.StartT(t, testregistry.WithStorageDir(seedStorage(t, imgs)))
	for round := range 5 {
		storage := t.TempDir()
		dst := testregistry.StartT(t, testregistry.WithStorageDir(storage))
		r := newRig(t, src.Host(), dst.Host(), imgs, "")
		r.must(0, "lock")
		a, b := r.runBoth([]string{"apply", "--auto-approve"}, []string{"apply", "--auto-approve", "--parallelism", "1"})
		for i, res := range []result{a, b} {
			if res.code != 0 {
				t.Errorf("round %d: apply %d of 2 running at once failed:\n%v", round, i+1, res)
			}
		}
		r.checkMirrored()
		checkStoredBlobs(t, storage)
		if res := r.must(0, "plan", "--detailed-exitcode"); !strings.Contains(res.stdout, "No changes.") {
			t.Errorf("round %d: plan after both applies:\n%v", round, res)
		}
	}
}

func TestConcurrentLock(t *testing.T) {
	imgs := rigImages()
	srcReg := testregistry.StartT(t, testregistry.WithStorageDir(seedStorage(t, imgs)))
	// Slow answers, so that the two runs overlap: each reads images.lock,
	// then spends a while resolving before it writes.
	proxy, err := faultproxy.Start(srcReg.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	dst := testregistry.StartT(t)
	r := newRig(t, proxy.Host(), dst.Host(), imgs, "")
	r.must(0, "lock")
	lockPath := filepath.Join(r.dir, "images.lock")
	before := loadLock(t, lockPath)

	// Both tags move upstream.
	moved := map[string]string{}
	for _, short := range []string{"alpine", "busybox"} {
		img := imageOf(t, imgs, short)
		img.Generation = 1
		d, err := fakeupstream.Push(context.Background(), img, map[string]string{"docker.io": srcReg.Host()})
		if err != nil {
			t.Fatal(err)
		}
		moved[r.source(img)] = d
	}
	proxy.Add(&faultproxy.Rule{Method: http.MethodHead, Path: faultproxy.Manifests, Fault: faultproxy.Delay, Delay: 700 * time.Millisecond})

	start := time.Now()
	a, b := r.runBoth(
		[]string{"lock", "--upgrade", r.source(imageOf(t, imgs, "alpine"))},
		[]string{"lock", "--upgrade", r.source(imageOf(t, imgs, "busybox"))},
	)
	t.Logf("both lock runs took %v\nfirst:\n%v\nsecond:\n%v", time.Since(start), a, b)
	for i, res := range []result{a, b} {
		if res.code != 0 {
			t.Fatalf("lock --upgrade %d of 2 running at once failed:\n%v", i+1, res)
		}
	}
	after := loadLock(t, lockPath) // parses: not torn
	for _, img := range after.Images {
		want := moved[img.Ref.String()]
		if want == "" {
			want = lockedImage(t, before, img.Ref.String()).Digest.String()
		}
		if img.Digest.String() != want {
			t.Errorf("%s is locked to %s, want %s: one lock run undid the other's upgrade", img.Ref, img.Digest, want)
		}
	}
	if len(after.Images) != len(imgs) {
		t.Errorf("the lock has %d images, want %d", len(after.Images), len(imgs))
	}

	// Two full relocks at once give the bytes one relock gives.
	proxy.Clear()
	want := readFile(t, lockPath)
	a, b = r.runBoth([]string{"lock", "--upgrade"}, []string{"lock", "--upgrade"})
	if a.code != 0 || b.code != 0 {
		t.Fatalf("two lock --upgrade at once:\n%v\n%v", a, b)
	}
	if got := readFile(t, lockPath); got != want {
		t.Errorf("two lock --upgrade at once left another lockfile:\n%s\nwant:\n%s", got, want)
	}
	r.must(0, "lock", "--check")

	// Nothing left behind: no temporary file, no lock sidecar.
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n != "images.hcl" && n != "images.lock" {
			t.Errorf("left in the repository: %s", n)
		}
	}
	if _, err := os.Stat(lock.SidecarPath(lockPath)); err == nil {
		t.Errorf("the lock sidecar %s is left behind", lock.SidecarPath(lockPath))
	}
}

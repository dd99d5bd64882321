package e2e

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// budgetImages are rigImages and a three-platform index: 3 + 1 + 2 + 4 =
// 10 manifest GETs to copy them all.
func budgetImages() []fakeupstream.Image {
	return append(rigImages(), fakeupstream.Image{Ref: "docker.io/library/redis:7",
		Platforms: []string{"linux/amd64", "linux/arm/v7", "linux/arm64"}, Format: fakeupstream.OCI, Base: "alpine", LayerSize: 64 << 10})
}

// runBounded runs imagesync in the rig, killing it if it is still running
// after limit: a run told to wait an hour must stop on its own, not hang.
func (r *rig) runBounded(limit time.Duration, args ...string) (result, time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), append([]string{"DOCKER_CONFIG=" + r.t.TempDir()}, r.env...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		r.t.Fatalf("imagesync %s was still running after %v: it waits instead of stopping\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), limit, stdout.String(), stderr.String())
	}
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		r.t.Fatal(err)
	}
	return res, took
}

// throttle makes the source answer 429 with Retry-After to the manifest
// GETs of one repository, times times (0: every time); the function it
// returns counts the 429s sent.
func throttle(f *front, repo, retryAfter string, times int) func() int {
	var n atomic.Int64
	f.set(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/manifests/") || (times > 0 && n.Load() >= int64(times)) {
			return false
		}
		n.Add(1)
		w.Header().Set("Retry-After", retryAfter)
		registryError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "You have reached your pull rate limit.")
		return true
	})
	return func() int { return int(n.Load()) }
}

// TestPullBudgetAndRetryAfter: the source announces 3 pulls left of 100 and
// apply needs 10: plan warns with the numbers (after one HEAD; its other
// requests to the source are the HEADs of the 4 tags it creates, asked
// upstream for unusual digests), and the count is exact. A 429 with
// Retry-After: 3600 stops apply at once, exit 1, nothing half-written; a
// wait longer than --max-wait stops it too; once the source takes requests
// again, a re-run completes, honouring a short Retry-After on the way.
func TestPullBudgetAndRetryAfter(t *testing.T) {
	imgs := budgetImages()
	src := seededSource(t, imgs)
	f := startFront(t, src)
	f.header.Set("RateLimit-Limit", "100;w=21600")
	f.header.Set("RateLimit-Remaining", "3;w=21600")
	storage := t.TempDir()
	dst := testregistry.StartT(t, testregistry.WithStorageDir(storage))
	r := newRig(t, f.host(), dst.Host(), imgs, "")
	r.must(0, "lock")

	gets, heads := f.counts()
	res := r.must(2, "plan", "--detailed-exitcode")
	for _, want := range []string{
		"  " + f.host() + "  10 for 4 images  rate limit: 3 of 100 left per 6h\n",
		"Warning: apply needs 10 pulls from " + f.host() + ", and only 3 of 100 remain per 6h: it would run out halfway.",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("plan lacks %q:\n%v", want, res)
		}
	}
	if g, h := f.counts(); g != gets || h != heads+1+4 {
		t.Errorf("plan sent %d manifest GETs and %d HEADs to the source, want 0 and 1 + 4", g-gets, h-heads)
	}
	gets, heads = f.counts()
	r.must(2, "plan", "--detailed-exitcode", "--no-preflight")
	if g, h := f.counts(); g != gets || h != heads+4 {
		t.Errorf("plan --no-preflight sent %d GETs and %d HEADs to the source, want 0 and the 4 tags'", g-gets, h-heads)
	}

	// An hour's wait: apply stops with what it did, one image at a time so
	// that one is done before and one is left after.
	throttle(f, "library/debian", "3600", 0)
	res, took := r.runBounded(3*time.Minute, "apply", "--auto-approve", "--parallelism", "1")
	t.Logf("apply told to wait an hour stopped after %v", took)
	if res.code != 1 {
		t.Fatalf("apply told to wait an hour exited %d, want 1\n%v", res.code, res)
	}
	target := func(short string) string { return r.target(imageOf(t, imgs, short)) }
	for _, want := range []string{
		"Apply stopped: " + f.host() + " asked to wait 1h0m0s (429 Too Many Requests, Retry-After), longer than --max-wait 5m0s. Done before the stop: 2 created, 0 updated; 1 failed, 1 not started.",
		`Run "imagesync apply" again after `,
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("apply lacks %q:\n%v", want, res)
		}
	}
	if !strings.Contains(res.stderr, "imagesync: apply stopped: "+f.host()+" asked to wait 1h0m0s") {
		t.Errorf("apply's error:\n%v", res)
	}
	checkHalfWritten(t, r, storage, imgs, []string{"alpine", "busybox"}, []string{"debian", "redis"})
	if !strings.Contains(res.stdout, target("redis")) || !strings.Contains(res.stdout, "not started") {
		t.Errorf("the summary does not show redis not started:\n%s", res.stdout)
	}

	// Longer than --max-wait: the same clean stop.
	throttle(f, "library/debian", "3", 0)
	res, _ = r.runBounded(3*time.Minute, "apply", "--auto-approve", "--parallelism", "1", "--max-wait", "2s")
	if res.code != 1 || !strings.Contains(res.stdout, "asked to wait 3s (429 Too Many Requests, Retry-After), longer than --max-wait 2s") {
		t.Errorf("apply with --max-wait 2s told to wait 3s:\n%v", res)
	}
	checkHalfWritten(t, r, storage, imgs, []string{"alpine", "busybox"}, []string{"debian", "redis"})

	// The wait is over: the source answers once more with a short
	// Retry-After, which apply waits for, then the rest is copied with
	// exactly the pulls plan counted.
	refused := throttle(f, "library/debian", "1", 1)
	res = r.must(2, "plan", "--detailed-exitcode")
	if !strings.Contains(res.stdout, "  "+f.host()+"  6 for 2 images  rate limit: 3 of 100 left per 6h\n") {
		t.Errorf("plan of the rest:\n%v", res)
	}
	gets, _ = f.counts()
	res = r.must(0, "apply", "--auto-approve")
	if !strings.Contains(res.stdout, "Apply complete! Images: 2 created, 0 updated, 2 unchanged.") {
		t.Errorf("the re-run:\n%v", res)
	}
	if refused() != 1 {
		t.Errorf("the source refused %d GETs with Retry-After: 1, want 1", refused())
	}
	if g, _ := f.counts(); g-gets != 6 {
		t.Errorf("apply sent %d manifest GETs the source answered, plan counted 6", g-gets)
	}
	r.checkMirrored()
	checkStoredBlobs(t, storage)
}

// checkHalfWritten checks the target after a stopped apply: the images
// done are there whole (tag, manifests, blobs), the others have no tag,
// and no stored blob is corrupt.
func checkHalfWritten(t *testing.T, r *rig, storage string, imgs []fakeupstream.Image, done, notDone []string) {
	t.Helper()
	problems := r.verifyProblems()
	for _, short := range done {
		if p := problems[r.target(imageOf(t, imgs, short))]; len(p) > 0 {
			t.Errorf("%s, done before the stop, is not whole: %v", short, p)
		}
	}
	for _, short := range notDone {
		target := r.target(imageOf(t, imgs, short))
		if p := problems[target]; len(p) != 1 || p[0] != "missing" {
			t.Errorf("%s after the stop: %v, want only its tag missing", short, p)
		}
	}
	checkStoredBlobs(t, storage)
}

package e2e

// Scaling out: one saved plan applied by 4 runs at once, each taking its
// part (--shard k/4), as a CI matrix or a Kubernetes Indexed Job does.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/faultproxy"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// shardImages are 44 small images in 30 repositories (14 with two tags),
// single and multi-platform, all on one base layer.
func shardImages() []fakeupstream.Image {
	var imgs []fakeupstream.Image
	for i := range 30 {
		tags := []string{"1"}
		if i%2 == 0 && i < 28 {
			tags = append(tags, "2")
		}
		for _, tag := range tags {
			img := fakeupstream.Image{Ref: fmt.Sprintf("docker.io/library/shard%02d:%s", i, tag), Platforms: []string{"linux/amd64", "linux/arm64"},
				Format: fakeupstream.OCI, Base: "alpine", LayerSize: 16 << 10}
			if i%3 == 0 {
				img.Platforms, img.Single, img.Format = []string{"linux/amd64"}, true, fakeupstream.Docker
			}
			imgs = append(imgs, img)
		}
	}
	return imgs
}

// savedPlan is the part of a saved plan file the tests read.
type savedPlan struct {
	Shards  int `json:"shards"`
	Changes []struct {
		Target string `json:"target"`
		Shard  int    `json:"shard"`
	} `json:"changes"`
}

// parts reads the targets of each part of a plan split by plan --shard.
func parts(t *testing.T, doc string) map[int][]string {
	t.Helper()
	var p savedPlan
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("read plan: %v\n%s", err, doc)
	}
	out := map[int][]string{}
	for _, c := range p.Changes {
		if p.Shards == 0 || c.Shard < 1 || c.Shard > p.Shards {
			t.Fatalf("plan of %d parts puts %s in part %d", p.Shards, c.Target, c.Shard)
		}
		out[c.Shard] = append(out[c.Shard], c.Target)
	}
	return out
}

// appliedTargets are the targets an apply's summary table lists as done.
func appliedTargets(stdout, prefix string) []string {
	row := regexp.MustCompile(`^(` + regexp.QuoteMeta(prefix) + `\S+)\s+(create|update)\s.*\sok$`)
	var out []string
	for _, line := range strings.Split(stdout, "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// manifestPuts counts the manifest PUTs answered 201 per repository and
// per repository:tag.
func manifestPuts(reqs []testregistry.Request) (byRepo, byTag map[string]int) {
	byRepo, byTag = map[string]int{}, map[string]int{}
	for _, r := range reqs {
		kind, repo, ref := r.Endpoint()
		if kind != testregistry.KindManifest || r.Method != http.MethodPut || r.Status != http.StatusCreated {
			continue
		}
		byRepo[repo]++
		if !strings.HasPrefix(ref, "sha256:") {
			byTag[repo+":"+ref]++
		}
	}
	return byRepo, byTag
}

// runShards runs apply --shard SHARD for every shard given at the same time.
func (r *rig) runShards(shards []string, args ...string) []result {
	r.t.Helper()
	env := append([]string{"DOCKER_CONFIG=" + r.t.TempDir()}, r.env...)
	out := make([]result, len(shards))
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, shard := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = execImagesync(r.dir, env, append([]string{"apply", "--shard", shard}, args...)...)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			r.t.Fatal(err)
		}
	}
	return out
}

func TestShardedApply(t *testing.T) {
	imgs := shardImages()
	src := testregistry.StartT(t, testregistry.WithStorageDir(seedStorage(t, imgs)))

	// One copy of every image, unsharded, into a registry of its own: the
	// manifest PUTs each repository gets from exactly one copy.
	once := testregistry.StartT(t)
	ref := newRig(t, src.Host(), once.Host(), imgs, "")
	ref.must(0, "lock")
	ref.must(0, "apply", "--auto-approve", "-q")
	oneCopy, _ := manifestPuts(accessLog(t, once, 0))

	dst := testregistry.StartT(t)
	r := newRig(t, src.Host(), dst.Host(), imgs, "")
	r.must(0, "lock")
	lockBytes := readFile(t, filepath.Join(r.dir, "images.lock"))
	r.must(0, "plan", "--shard", "1/4", "--out", "plan.json")
	planned := parts(t, readFile(t, filepath.Join(r.dir, "plan.json")))
	if len(planned) != 4 {
		t.Fatalf("the plan has %d non-empty parts of 4: %v", len(planned), planned)
	}
	results := r.runShards([]string{"1/4", "2/4", "3/4", "4/4"}, "plan.json")

	var union []string
	for k, res := range results {
		if res.code != 0 {
			t.Fatalf("apply --shard %d/4 failed:\n%v", k+1, res)
		}
		got, want := appliedTargets(res.stdout, r.dst+"/mirror/"), slices.Sorted(slices.Values(planned[k+1]))
		if !slices.Equal(got, want) {
			t.Errorf("shard %d/4 applied %v, its part of the plan is %v", k+1, got, want)
		}
		if !strings.Contains(res.stdout, fmt.Sprintf("Shard %d/4: %d of the plan's 44 images and builds", k+1, len(want))) {
			t.Errorf("shard %d/4 does not say which part it applies:\n%s", k+1, res.stdout)
		}
		union = append(union, got...)
	}
	var all []string
	for _, img := range imgs {
		all = append(all, r.target(img))
	}
	if slices.Sort(union); !slices.Equal(union, slices.Sorted(slices.Values(all))) {
		t.Errorf("the shards applied %d images (%v), the lock holds %d", len(union), union, len(all))
	}

	// Each image was copied by one shard only: one tag PUT per image, and
	// per repository the manifest PUTs of one copy.
	byRepo, byTag := manifestPuts(accessLog(t, dst, 0))
	for _, img := range imgs {
		if tag := strings.TrimPrefix(r.target(img), r.dst+"/"); byTag[tag] != 1 {
			t.Errorf("%s: %d tag PUTs, want 1", tag, byTag[tag])
		}
	}
	for repo, n := range oneCopy {
		if byRepo[repo] != n {
			t.Errorf("%s: %d manifest PUTs by the shards, one copy makes %d", repo, byRepo[repo], n)
		}
	}
	if len(byRepo) != len(oneCopy) || len(oneCopy) != 30 {
		t.Errorf("the shards wrote to %d repositories, one copy to %d, want 30", len(byRepo), len(oneCopy))
	}
	r.checkMirrored()
	if readFile(t, filepath.Join(r.dir, "images.lock")) != lockBytes {
		t.Error("apply --shard wrote images.lock")
	}
	if res := r.must(0, "plan", "--detailed-exitcode"); !strings.Contains(res.stdout, "No changes.") {
		t.Errorf("plan after the shards:\n%v", res)
	}
}

// TestShardKilledAndRerun kills one shard in the middle of its part (its
// third repository's blobs never come), runs it again on the same saved
// plan, made whole (the shards split it by the same hash), and lets the
// other shards finish theirs.
func TestShardKilledAndRerun(t *testing.T) {
	imgs := shardImages()
	src := testregistry.StartT(t, testregistry.WithStorageDir(seedStorage(t, imgs)))
	proxy, err := faultproxy.Start(src.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	dst := testregistry.StartT(t)
	r := newRig(t, proxy.Host(), dst.Host(), imgs, "")
	r.must(0, "lock")
	r.must(0, "plan", "--out", "plan.json")
	mine := parts(t, r.must(0, "plan", "--shard", "1/4", "--json").stdout)[1]
	slices.Sort(mine)
	var repos []string // shard 1's repositories, in the order apply copies them
	for _, target := range mine {
		if repo := target[:strings.LastIndex(target, ":")]; !slices.Contains(repos, repo) {
			repos = append(repos, repo)
		}
	}
	if len(repos) < 3 {
		t.Fatalf("shard 1/4 has %d repositories, the test needs 3: %v", len(repos), mine)
	}
	stalled := "/v2/" + strings.TrimPrefix(repos[2], r.dst+"/mirror/") + "/blobs/"
	rule := proxy.Add(&faultproxy.Rule{Method: http.MethodGet, Fault: faultproxy.Stall,
		Match: func(req *http.Request) bool { return strings.HasPrefix(req.URL.Path, stalled) }})

	cmd := exec.Command(binary, "apply", "--shard", "1/4", "--parallelism", "1", "plan.json")
	cmd.Dir, cmd.Env = r.dir, append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); rule.Injected() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("shard 1/4 never reached its third repository")
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	landed := 0
	for _, target := range mine {
		if headDigest(t, target) != "" {
			landed++
		}
	}
	if landed == 0 || landed == len(mine) {
		t.Fatalf("%d of shard 1's %d images landed before the kill: not mid-way", landed, len(mine))
	}
	proxy.Clear()

	res := r.must(0, "apply", "--shard", "1/4", "plan.json")
	if want := fmt.Sprintf("Apply complete! Images: %d created, 0 updated, %d unchanged.", len(mine)-landed, landed); !strings.Contains(res.stdout, want) {
		t.Errorf("shard 1/4 again: want %q\n%v", want, res)
	}
	for _, res := range r.runShards([]string{"2/4", "3/4", "4/4"}, "plan.json") {
		if res.code != 0 {
			t.Errorf("another shard after the rerun:\n%v", res)
		}
	}
	r.checkMirrored()
}

// TestShardedBuilds applies the whole example, builds included, in parts
// at once: a build waits for the bases another part pushes. The parts
// follow the target repositories' names, which hold the registry's port,
// so the test takes the fewest parts (from 2) that put a build's base in
// another part than the build.
func TestShardedBuilds(t *testing.T) {
	needBuildah(t)
	s := startStack(t)
	dir := s.example(t)
	run(t, dir, 0, "lock")
	l := loadLock(t, filepath.Join(dir, "images.lock"))
	n, waits := 0, 0
	for n = 2; n <= 8 && waits == 0; n++ {
		waits = crossPartBases(l, n)
	}
	n--
	if waits == 0 {
		t.Fatal("no split into 2 to 8 parts puts a build's base in another part: the test would not wait for anything")
	}
	run(t, dir, 0, "plan", "--shard", fmt.Sprintf("1/%d", n), "--out", "plan.json")
	partOf := map[string]int{}
	for k, targets := range parts(t, readFile(t, filepath.Join(dir, "plan.json"))) {
		for _, target := range targets {
			partOf[target] = k
		}
	}
	for _, b := range l.Builds {
		if want := diff.ShardOf(b.Target.Repository(), n); partOf[b.Target.String()] != want {
			t.Fatalf("the plan puts %s in part %d, ShardOf says %d", b.Target, partOf[b.Target.String()], want)
		}
	}
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = imagesync(t, dir, "apply", "--shard", fmt.Sprintf("%d/%d", i+1, n), "--debug", "plan.json")
		}()
	}
	wg.Wait()
	waited := 0
	for i, res := range results {
		if res.code != 0 {
			t.Fatalf("apply --shard %d/%d:\n%v", i+1, n, res)
		}
		waited += strings.Count(res.stderr, "waiting for a base another part of the plan pushes")
	}
	if waited != waits {
		t.Errorf("the builds waited for %d bases of other parts, the lock has %d such bases", waited, waits)
	}
	if r := run(t, dir, 0, "plan", "--detailed-exitcode"); !strings.Contains(r.stdout, "No changes.") {
		t.Errorf("plan after both parts:\n%v", r)
	}
	run(t, dir, 0, "verify", "--deep")
}

// crossPartBases counts the bases of builds that a split into n parts puts
// in another part than the build.
func crossPartBases(l *lock.Lock, n int) int {
	waits := 0
	for _, b := range l.Builds {
		for _, base := range b.Bases {
			if img := l.Image(base); img != nil && diff.ShardOf(img.Target.Repository(), n) != diff.ShardOf(b.Target.Repository(), n) {
				waits++
			}
		}
	}
	return waits
}

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagesync/imagesync/internal/testregistry"
)

// TestApplyCycle runs the whole cycle: lock, plan, apply, no changes, an
// upstream tag moves, lock --upgrade, plan shows one update, apply, verify.
// It runs against docker-registry (when installed) and again against the
// in-process registry, so that CI, which installs the package, also covers
// what a machine without it runs.
func TestApplyCycle(t *testing.T) {
	t.Run("registry", func(t *testing.T) { testApplyCycle(t, startStack(t)) })
	t.Run("inprocess", func(t *testing.T) {
		in := []testregistry.Option{testregistry.WithMode(testregistry.ModeInProcess)}
		s := startStackWith(t, stackOptions{hub: in, quay: in, target: in})
		if !s.hub.InProcess() || !s.target.InProcess() {
			t.Fatal("the registries are not in-process")
		}
		testApplyCycle(t, s)
	})
}

func testApplyCycle(t *testing.T, s *stack) {
	dir, l := lockedExample(t, s)

	r := run(t, dir, 2, "plan", "--detailed-exitcode")
	if !strings.Contains(r.stdout, "Plan: 15 to create, 0 to update, 0 unchanged.") {
		t.Errorf("first plan:\n%v", r)
	}
	if n := len(planLines(r.stdout, "+")); n != 15 {
		t.Errorf("first plan lists %d creations, want 15:\n%s", n, r.stdout)
	}
	r = run(t, dir, 0, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "Apply complete! Images: 15 created, 0 updated, 0 unchanged.") {
		t.Errorf("apply:\n%v", r)
	}
	r = run(t, dir, 0, "plan", "--detailed-exitcode")
	if !strings.Contains(r.stdout, "No changes.") {
		t.Errorf("plan after apply:\n%v", r)
	}

	const redis = "docker.io/library/redis:7-alpine"
	oldDigest := lockedImage(t, l, redis).Digest.String()
	newDigest := moveUpstreamTag(t, s, redis)
	run(t, dir, 0, "lock", "--upgrade")
	if got := lockedImage(t, loadLock(t, filepath.Join(dir, "images.lock")), redis).Digest.String(); got != newDigest {
		t.Fatalf("lock --upgrade locked %s to %s, upstream moved it to %s", redis, got, newDigest)
	}

	r = run(t, dir, 2, "plan", "--detailed-exitcode")
	updates := planLines(r.stdout, "~")
	if len(updates) != 1 {
		t.Fatalf("plan after the upgrade has %d update lines, want 1:\n%s", len(updates), r.stdout)
	}
	if want := shortDigest(oldDigest) + " -> " + shortDigest(newDigest); !strings.Contains(updates[0], redis) || !strings.Contains(updates[0], want) {
		t.Errorf("update line %q does not name %s with %s", updates[0], redis, want)
	}
	if n := len(planLines(r.stdout, "+")); n != 0 {
		t.Errorf("plan after the upgrade lists %d creations:\n%s", n, r.stdout)
	}
	if !strings.Contains(r.stdout, "Plan: 0 to create, 1 to update, 14 unchanged.") {
		t.Errorf("plan after the upgrade:\n%v", r)
	}

	r = run(t, dir, 0, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "Apply complete! Images: 0 created, 1 updated, 14 unchanged.") {
		t.Errorf("apply of the update:\n%v", r)
	}
	target := lockedImage(t, l, redis).Target.String()
	if got := headDigest(t, target); got != newDigest {
		t.Errorf("%s points at %s after the update, want %s", target, got, newDigest)
	}
	r = run(t, dir, 0, "verify", "--deep")
	if !strings.Contains(r.stdout, "Verified 15 images") {
		t.Errorf("verify --deep:\n%v", r)
	}
}

// TestApplyByteIdentical checks that every manifest in the target is the
// upstream's, byte for byte, and that every child of an index is there by
// digest: OCI indexes, Docker manifest lists and single Docker manifests.
func TestApplyByteIdentical(t *testing.T) {
	s := startStack(t)
	_, l := appliedExample(t, s)

	seen := map[string]int{}
	for _, img := range l.Images {
		src := byDigest(mirrorRef(s, img.Ref.String()), img.Digest.String())
		dst := byDigest(img.Target.String(), img.Digest.String())
		want, got := getManifest(t, src), getManifest(t, dst)
		seen[want.mediaType]++
		if string(got.raw) != string(want.raw) || got.mediaType != want.mediaType {
			t.Errorf("%s: target serves %d bytes of %s, upstream %d bytes of %s (identical: %t)",
				img.Ref, len(got.raw), got.mediaType, len(want.raw), want.mediaType, string(got.raw) == string(want.raw))
			continue
		}
		if !types.MediaType(want.mediaType).IsIndex() {
			continue
		}
		im, err := v1.ParseIndexManifest(strings.NewReader(string(want.raw)))
		if err != nil {
			t.Fatal(err)
		}
		for _, child := range im.Manifests {
			seen[string(child.MediaType)]++
			cw := getManifest(t, byDigest(src, child.Digest.String()))
			if d := headDigest(t, byDigest(dst, child.Digest.String())); d != child.Digest.String() {
				t.Errorf("%s: child %s (%v) is missing from the target", img.Ref, child.Digest, child.Platform)
				continue
			}
			cg := getManifest(t, byDigest(dst, child.Digest.String()))
			if string(cg.raw) != string(cw.raw) || cg.mediaType != cw.mediaType {
				t.Errorf("%s: child %s differs in the target", img.Ref, child.Digest)
			}
		}
	}
	for _, mt := range []types.MediaType{types.OCIImageIndex, types.OCIManifestSchema1, types.DockerManifestList, types.DockerManifestSchema2} {
		if seen[string(mt)] == 0 {
			t.Errorf("no %s was compared; the seed should have some (compared: %v)", mt, seen)
		}
	}
}

// TestApplyDigestOnlyReference mirrors a reference pinned by digest alone:
// its target is repository@digest, and apply leaves no tag.
func TestApplyDigestOnlyReference(t *testing.T) {
	s := startStack(t)
	dir := s.mirrorExample(t)
	alpine := headDigest(t, mirrorRef(s, "docker.io/library/alpine:latest"))
	pinned := "docker.io/library/alpine@" + alpine
	cfg := filepath.Join(dir, "images.hcl")
	writeFile(t, cfg, readFile(t, cfg)+"\nimage \""+pinned+"\" {}\n")
	run(t, dir, 0, "lock")
	l := loadLock(t, filepath.Join(dir, "images.lock"))
	img := lockedImage(t, l, pinned)
	wantTarget := s.target.Host() + "/ai-infra-matrix/alpine@" + alpine
	if img.Target.String() != wantTarget || img.Digest.String() != alpine {
		t.Fatalf("%s locked to %s -> %s, want %s -> %s", pinned, img.Digest, img.Target, alpine, wantTarget)
	}

	r := run(t, dir, 0, "apply", "--auto-approve", "--target", pinned)
	if !strings.Contains(r.stdout, "Apply complete! Images: 1 created, 0 updated, 0 unchanged.") {
		t.Errorf("apply of the pinned image:\n%v", r)
	}
	if got := headDigest(t, wantTarget); got != alpine {
		t.Errorf("%s resolves to %q after apply", wantTarget, got)
	}
	if got := getManifest(t, wantTarget).raw; string(got) != string(getManifest(t, byDigest(mirrorRef(s, pinned), alpine)).raw) {
		t.Errorf("%s is not the upstream's manifest", wantTarget)
	}
	latest := lockedImage(t, l, "docker.io/library/alpine:latest").Target.String()
	if got := headDigest(t, latest); got != "" {
		t.Errorf("applying only the pinned image created the tag %s (%s)", latest, got)
	}

	r = run(t, dir, 0, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "Apply complete! Images: 15 created, 0 updated, 1 unchanged.") {
		t.Errorf("apply of the rest:\n%v", r)
	}
	r = run(t, dir, 0, "plan", "--detailed-exitcode", "-v")
	if !strings.Contains(r.stdout, "No changes. The target registry matches images.lock") || len(planLines(r.stdout, "=")) != 16 {
		t.Errorf("plan -v after apply does not list 16 unchanged images:\n%v", r)
	}
	var line string
	for _, ln := range planLines(r.stdout, "=") {
		if strings.Contains(ln, pinned) {
			line = ln
		}
	}
	if line == "" || !strings.Contains(line, wantTarget) {
		t.Errorf("plan -v does not show %s unchanged at %s:\n%s", pinned, wantTarget, r.stdout)
	}
}

// TestApplyUploadsSharedBlobsOnce counts, from the target's access log,
// what a cold apply uploads: every distinct blob of the 15 images exactly
// once, and every other repository that needs it gets it by mount.
func TestApplyUploadsSharedBlobsOnce(t *testing.T) {
	s := startStack(t)
	_, l := appliedExample(t, s)
	reqs := requests(t, s.target)

	// Which target repositories need which blob.
	need := map[string]map[string]bool{}
	for _, img := range s.images {
		repo := targetRepo(t, l, img.Ref)
		for _, b := range blobsOf(t, img) {
			if need[b] == nil {
				need[b] = map[string]bool{}
			}
			need[b][repo] = true
		}
	}
	up := uploads(reqs)
	for d, n := range up {
		if n != 1 {
			t.Errorf("blob %s uploaded %d times (into %v)", d, n, uploadsTo(reqs)[d])
		}
		if need[d] == nil {
			t.Errorf("blob %s uploaded, but no image has it", d)
		}
	}
	if len(up) != len(need) {
		t.Errorf("%d distinct blobs uploaded, the 15 images have %d", len(up), len(need))
	}
	for d := range need {
		if up[d] == 0 {
			t.Errorf("blob %s (needed by %v) was never uploaded", d, sortedKeys(need[d]))
		}
	}

	// Every repository that needs a blob got it once: by the upload or a mount.
	got := map[string]map[string]int{}
	add := func(d, repo string) {
		if got[d] == nil {
			got[d] = map[string]int{}
		}
		got[d][repo]++
	}
	for d, repos := range uploadsTo(reqs) {
		for _, repo := range repos {
			add(d, repo)
		}
	}
	ms := mounts(reqs)
	for _, m := range ms {
		add(m.digest, m.into)
		if !need[m.digest][m.from] {
			t.Errorf("blob %s mounted from %s, which does not need it", m.digest, m.from)
		}
	}
	for d, repos := range need {
		for repo := range repos {
			if got[d][repo] != 1 {
				t.Errorf("blob %s reached %s %d times by upload or mount, want 1", d, repo, got[d][repo])
			}
		}
	}

	// The shared alpine base layers (first layer of each platform) are mounted.
	mounted := map[string]int{}
	for _, m := range ms {
		mounted[m.digest]++
	}
	for _, m := range platformManifests(t, seedImage(t, s, "docker.io/library/redis:7-alpine")) {
		base := m.Layers[0].Digest.String()
		if want := len(need[base]) - 1; mounted[base] != want || want < 5 {
			t.Errorf("alpine base layer %s mounted %d times, want %d (one per other repository)", base, mounted[base], want)
		}
	}
	t.Logf("cold apply: %d blobs uploaded, %d mounted, %d target requests", len(up), len(ms), len(reqs))
}

// TestApplyTargetedThenRest applies three images with --target, then the
// rest: nothing the first run uploaded is uploaded again.
func TestApplyTargetedThenRest(t *testing.T) {
	s := startStack(t)
	dir, l := lockedExample(t, s)
	first := []string{"docker.io/library/redis:7-alpine", "docker.io/osixia/openldap:stable", "quay.io/minio/minio:latest"}
	args := []string{"apply", "--auto-approve"}
	for _, ref := range first {
		args = append(args, "--target", ref)
	}
	r := run(t, dir, 0, args...)
	if !strings.Contains(r.stdout, "Plan: 3 to create, 0 to update, 0 unchanged.") ||
		!strings.Contains(r.stdout, "Apply complete! Images: 3 created, 0 updated, 0 unchanged.") {
		t.Errorf("targeted apply:\n%v", r)
	}
	for _, img := range l.Images {
		got := headDigest(t, img.Target.String())
		switch {
		case slices.Contains(first, img.Ref.String()) && got != img.Digest.String():
			t.Errorf("%s resolves to %q after the targeted apply, want %s", img.Target, got, img.Digest)
		case !slices.Contains(first, img.Ref.String()) && got != "":
			t.Errorf("%s exists after a targeted apply that did not name it", img.Target)
		}
	}
	firstReqs := requests(t, s.target)
	var repos []string
	for _, ref := range first {
		repos = append(repos, targetRepo(t, l, ref))
	}
	for _, req := range firstReqs {
		if _, repo, _ := req.Endpoint(); req.Method != http.MethodGet && req.Method != http.MethodHead && !slices.Contains(repos, repo) {
			t.Errorf("targeted apply wrote to %s: %s %s", repo, req.Method, req.Path)
		}
	}

	r = run(t, dir, 2, "plan", "--detailed-exitcode")
	if !strings.Contains(r.stdout, "Plan: 12 to create, 0 to update, 3 unchanged.") {
		t.Errorf("plan after the targeted apply:\n%v", r)
	}
	r = run(t, dir, 0, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "Apply complete! Images: 12 created, 0 updated, 3 unchanged.") {
		t.Errorf("full apply:\n%v", r)
	}
	before := uploads(firstReqs)
	rest := requestsSince(t, s.target, len(firstReqs))
	for d, n := range uploads(rest) {
		if before[d] > 0 {
			t.Errorf("blob %s, uploaded by the targeted apply, was uploaded %d more times into %v", d, n, uploadsTo(rest)[d])
		} else if n > 1 {
			t.Errorf("blob %s uploaded %d times", d, n)
		}
	}
	run(t, dir, 0, "verify", "--deep")
}

// TestApplySourceFails makes two sources fail: the quay.io stand-in is
// down (minio) and one layer of redis is gone from the docker.io stand-in.
// Apply copies the others, names the two, leaves no tag for them, and a
// second apply once the sources are back finishes without sending again
// what landed.
func TestApplySourceFails(t *testing.T) {
	hubStorage, quayStorage := t.TempDir(), t.TempDir()
	s := startStackWith(t, stackOptions{
		hub:  []testregistry.Option{testregistry.WithStorageDir(hubStorage)},
		quay: []testregistry.Option{testregistry.WithStorageDir(quayStorage)},
	})
	dir, l := lockedExample(t, s)

	const redis, minio = "docker.io/library/redis:7-alpine", "quay.io/minio/minio:latest"
	// The own layer of redis's first platform, shared with no other
	// image: redis fails halfway, with some of its blobs landed and its
	// other platform not begun.
	ms := platformManifests(t, seedImage(t, s, redis))
	gone := ms[0].Layers[len(ms[0].Layers)-1].Digest.String()
	aside := filepath.Join(t.TempDir(), "data")
	moveFile(t, blobDataPath(hubStorage, gone), aside)
	quayHost := s.quay.Host()
	if err := s.quay.Close(); err != nil {
		t.Fatal(err)
	}

	r := run(t, dir, 1, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "Apply failed for 2 of 15 images (13 created, 0 updated):") {
		t.Errorf("apply with two sources failing:\n%v", r)
	}
	failed := map[string]string{redis: gone, minio: "connection refused"}
	for ref, why := range failed {
		target := lockedImage(t, l, ref).Target.String()
		found := false
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(line, "  "+target+" ("+ref+"): ") {
				found = true
				if !strings.Contains(line, why) {
					t.Errorf("failure line of %s does not say %q: %s", ref, why, line)
				}
			}
		}
		if !found {
			t.Errorf("apply output does not list %s as failed:\n%s", target, r.stdout)
		}
		if d := headDigest(t, target); d != "" {
			t.Errorf("the target holds %s (%s) although its copy failed", target, d)
		}
	}
	for _, img := range l.Images {
		if _, ok := failed[img.Ref.String()]; ok {
			continue
		}
		if d := headDigest(t, img.Target.String()); d != img.Digest.String() {
			t.Errorf("%s resolves to %q after apply, want %s", img.Target, d, img.Digest)
		}
	}
	firstReqs := requests(t, s.target)
	for _, req := range firstReqs {
		kind, repo, ref := req.Endpoint()
		if kind == testregistry.KindManifest && req.Method == http.MethodPut && !strings.HasPrefix(ref, "sha256:") &&
			(repo == targetRepo(t, l, redis) || repo == targetRepo(t, l, minio)) {
			t.Errorf("apply tagged a failed image: %s %s", req.Method, req.Path)
		}
	}

	// The sources come back: the blob is restored, quay restarts on its storage.
	moveFile(t, aside, blobDataPath(hubStorage, gone))
	s.quay = testregistry.StartT(t, testregistry.WithAddr(quayHost), testregistry.WithStorageDir(quayStorage))
	r = run(t, dir, 0, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "Apply complete! Images: 2 created, 0 updated, 13 unchanged.") {
		t.Errorf("second apply:\n%v", r)
	}
	before := uploads(firstReqs)
	rest := requestsSince(t, s.target, len(firstReqs))
	for d, n := range uploads(rest) {
		if before[d] > 0 {
			t.Errorf("blob %s, uploaded by the failed apply, was uploaded %d more times into %v", d, n, uploadsTo(rest)[d])
		}
	}
	run(t, dir, 0, "verify", "--deep")
}

// TestApplyLockedDigestNotMovedTag applies after the upstream tag moved,
// without relocking: the target gets the locked digest.
func TestApplyLockedDigestNotMovedTag(t *testing.T) {
	s := startStack(t)
	dir, l := lockedExample(t, s)
	const redis = "docker.io/library/redis:7-alpine"
	locked := lockedImage(t, l, redis).Digest.String()
	moved := moveUpstreamTag(t, s, redis)
	if moved == locked {
		t.Fatal("generation 1 has the same digest")
	}
	if got := headDigest(t, mirrorRef(s, redis)); got != moved {
		t.Fatalf("upstream %s resolves to %s, want the moved %s", redis, got, moved)
	}
	run(t, dir, 0, "apply", "--auto-approve")
	target := lockedImage(t, l, redis).Target.String()
	if got := headDigest(t, target); got != locked {
		t.Errorf("%s resolves to %s; want the locked %s, not the moved tag's %s", target, got, locked, moved)
	}
	if d := headDigest(t, byDigest(target, moved)); d != "" {
		t.Errorf("the moved tag's manifest %s was copied to the target", moved)
	}
	run(t, dir, 0, "plan", "--detailed-exitcode")
	run(t, dir, 0, "verify", "--deep")
}

// TestVerify checks verify on a healthy target, after a blob is deleted
// from the target's storage (only --deep notices), and after a tag is.
func TestVerify(t *testing.T) {
	storage := t.TempDir()
	s := startStackWith(t, stackOptions{target: []testregistry.Option{testregistry.WithStorageDir(storage)}})
	dir, l := appliedExample(t, s)
	r := run(t, dir, 0, "verify")
	if !strings.Contains(r.stdout, "Verified 15 images") {
		t.Errorf("verify:\n%v", r)
	}
	run(t, dir, 0, "verify", "--deep")

	const redis = "docker.io/library/redis:7-alpine"
	img := lockedImage(t, l, redis)
	ms := platformManifests(t, seedImage(t, s, redis))
	layer := ms[0].Layers[len(ms[0].Layers)-1].Digest.String() // redis's own amd64 layer
	if err := os.Remove(blobDataPath(storage, layer)); err != nil {
		t.Fatal(err)
	}
	r = run(t, dir, 0, "verify")
	if !strings.Contains(r.stdout, "Verified 15 images") {
		t.Errorf("shallow verify after a blob was deleted:\n%v", r)
	}
	r = run(t, dir, 1, "verify", "--deep")
	if problems := problemLines(r.stdout); len(problems) != 1 ||
		!strings.HasPrefix(problems[0], "  "+img.Target.String()+" ("+redis+"): ") || !strings.Contains(problems[0], layer) {
		t.Errorf("verify --deep does not name the missing blob %s of %s, and only that:\n%v", layer, img.Target, r)
	}

	// A deleted tag: plain verify fails, naming the target.
	const nginx = "docker.io/library/nginx:1.27-alpine"
	tagged := lockedImage(t, l, nginx)
	if err := os.RemoveAll(tagDir(storage, tagged.Target.Path(), tagged.Target.Tag())); err != nil {
		t.Fatal(err)
	}
	if d := headDigest(t, tagged.Target.String()); d != "" {
		t.Fatalf("%s still resolves to %s after its tag was deleted", tagged.Target, d)
	}
	r = run(t, dir, 1, "verify")
	if problems := problemLines(r.stdout); len(problems) != 1 || problems[0] != "  "+tagged.Target.String()+" ("+nginx+"): missing" {
		t.Errorf("verify does not name the missing %s, and only that:\n%v", tagged.Target, r)
	}
	var out struct {
		Deep     bool
		Images   int
		Problems []struct{ Source, Target, Detail string }
	}
	r = run(t, dir, 1, "verify", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("verify --json: %v\n%v", err, r)
	}
	if out.Images != 15 || len(out.Problems) != 1 || out.Problems[0].Target != tagged.Target.String() {
		t.Errorf("verify --json = %+v", out)
	}
}

// TestApplySavedPlan applies saved plans and refuses stale ones: the lock
// changed, or a target moved since the plan was made.
func TestApplySavedPlan(t *testing.T) {
	s := startStack(t)
	dir, _ := lockedExample(t, s)

	r := run(t, dir, 2, "plan", "--out", "plan.json", "--detailed-exitcode")
	if !strings.Contains(r.stdout, "Saved the plan to plan.json") {
		t.Errorf("plan --out:\n%v", r)
	}
	r = run(t, dir, 0, "apply", "plan.json")
	if !strings.Contains(r.stdout, "Applying the saved plan plan.json: 15 to create, 0 to update, 0 unchanged.") ||
		!strings.Contains(r.stdout, "Apply complete! Images: 15 created, 0 updated, 0 unchanged.") ||
		strings.Contains(r.stdout, "Do you want to apply") {
		t.Errorf("apply of the saved plan:\n%v", r)
	}

	// The lock changes after the plan was made.
	const redis, python = "docker.io/library/redis:7-alpine", "docker.io/library/python:3.13-alpine"
	moveUpstreamTag(t, s, redis)
	run(t, dir, 0, "lock", "--upgrade", redis)
	run(t, dir, 2, "plan", "--out", "lock-changes.json", "--detailed-exitcode")
	moveUpstreamTag(t, s, python)
	run(t, dir, 0, "lock", "--upgrade", python)
	mark := len(requests(t, s.target))
	r = run(t, dir, 1, "apply", "lock-changes.json")
	if !strings.Contains(r.stderr, "saved plan is stale") || !strings.Contains(r.stderr, "images.lock changed since the plan was made") {
		t.Errorf("apply of a plan made from another lock:\n%v", r)
	}
	if w := writes(requestsSince(t, s.target, mark)); len(w) > 0 {
		t.Errorf("a refused saved plan wrote to the target: %v", w)
	}

	// A target moves elsewhere after the plan was made: someone pushed
	// another image to its tag.
	run(t, dir, 2, "plan", "--out", "target-moves.json", "--detailed-exitcode")
	pythonTarget := s.target.Host() + "/ai-infra-matrix/python:3.13-alpine"
	if err := crane.Copy(s.target.Host()+"/ai-infra-matrix/nginx:1.27-alpine", pythonTarget, crane.Insecure); err != nil {
		t.Fatal(err)
	}
	mark = len(requests(t, s.target))
	r = run(t, dir, 1, "apply", "target-moves.json")
	if !strings.Contains(r.stderr, "saved plan is stale") || !strings.Contains(r.stderr, pythonTarget+" moved since the plan") {
		t.Errorf("apply of a plan whose target moved:\n%v", r)
	}
	if w := writes(requestsSince(t, s.target, mark)); len(w) > 0 {
		t.Errorf("a refused saved plan wrote to the target: %v", w)
	}

	// A target that reached the locked digest since the plan was made (an
	// earlier run of the plan landed it) is done, not stale.
	run(t, dir, 2, "plan", "--out", "fresh.json", "--detailed-exitcode")
	run(t, dir, 0, "apply", "--auto-approve", "--target", python)
	r = run(t, dir, 0, "apply", "fresh.json")
	if !strings.Contains(r.stdout, "Applying the saved plan fresh.json: 0 to create, 1 to update, 14 unchanged.") ||
		!strings.Contains(r.stdout, "Apply complete! Images: 0 created, 1 updated, 14 unchanged.") {
		t.Errorf("apply of a saved plan half done:\n%v", r)
	}
	run(t, dir, 0, "verify", "--deep")
}

// TestApplyNeedsApproval: without --auto-approve and without a terminal,
// apply refuses, says how to apply unattended, and pushes nothing.
func TestApplyNeedsApproval(t *testing.T) {
	s := startStack(t)
	dir, _ := lockedExample(t, s)
	r := run(t, dir, 1, "apply")
	if !strings.Contains(r.stderr, "--auto-approve") || !strings.Contains(r.stderr, "not a terminal") {
		t.Errorf("apply without approval:\n%v", r)
	}
	reqs := requests(t, s.target)
	if w := writes(reqs); len(w) > 0 {
		t.Errorf("apply without approval wrote to the target: %v", w)
	}
	if n := testregistry.Count(reqs, http.MethodPut, testregistry.KindManifest) + testregistry.Count(reqs, http.MethodPut, testregistry.KindBlobUpload); n != 0 {
		t.Errorf("apply without approval sent %d PUTs", n)
	}
}

// TestPlanJSON checks plan --json against the lock and the target, with
// creations, an update and unchanged images in one plan.
func TestPlanJSON(t *testing.T) {
	s := startStack(t)
	dir, l := lockedExample(t, s)
	const redis, nginx = "docker.io/library/redis:7-alpine", "docker.io/library/nginx:1.27-alpine"
	run(t, dir, 0, "apply", "--auto-approve", "--target", redis, "--target", nginx)
	oldRedis := lockedImage(t, l, redis).Digest.String()
	newRedis := moveUpstreamTag(t, s, redis)
	run(t, dir, 0, "lock", "--upgrade", redis)
	lockBytes, err := os.ReadFile(filepath.Join(dir, "images.lock"))
	if err != nil {
		t.Fatal(err)
	}
	l = loadLock(t, filepath.Join(dir, "images.lock"))

	r := run(t, dir, 0, "plan", "--json")
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatalf("plan --json is not JSON: %v\n%v", err, r)
	}
	for _, key := range []string{"format_version", "lock_sha256", "changes", "summary"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("plan --json lacks %q", key)
		}
	}
	var p struct {
		FormatVersion string `json:"format_version"`
		LockSHA256    string `json:"lock_sha256"`
		Changes       []map[string]any
		Summary       struct{ Create, Update, Unchanged int }
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lockBytes)
	if want := "sha256:" + hex.EncodeToString(sum[:]); p.LockSHA256 != want {
		t.Errorf("lock_sha256 = %s, the lock's bytes hash to %s", p.LockSHA256, want)
	}
	if p.FormatVersion != "1" {
		t.Errorf("format_version = %q", p.FormatVersion)
	}
	if len(p.Changes) != 15 {
		t.Fatalf("%d changes, want 15", len(p.Changes))
	}
	counts := map[string]int{}
	for _, c := range p.Changes {
		for _, key := range []string{"action", "source", "target", "digest", "current_digest"} {
			if _, ok := c[key].(string); !ok {
				t.Errorf("change %v lacks the string %q", c, key)
			}
		}
		action, source := c["action"].(string), c["source"].(string)
		counts[action]++
		img := lockedImage(t, l, source)
		if c["target"] != img.Target.String() || c["digest"] != img.Digest.String() {
			t.Errorf("change %v does not match the lock's %s -> %s %s", c, source, img.Target, img.Digest)
		}
		want := map[string]string{redis: "update", nginx: "no-op"}[source]
		wantCurrent := map[string]string{redis: oldRedis, nginx: img.Digest.String()}[source]
		if want == "" {
			want = "create"
		}
		if action != want || c["current_digest"] != wantCurrent {
			t.Errorf("%s: action %q current_digest %q, want %q %q", source, action, c["current_digest"], want, wantCurrent)
		}
		if source == redis && c["digest"] != newRedis {
			t.Errorf("redis change digest %v, want %s", c["digest"], newRedis)
		}
	}
	if p.Summary.Create != counts["create"] || p.Summary.Update != counts["update"] || p.Summary.Unchanged != counts["no-op"] ||
		p.Summary.Create != 13 || p.Summary.Update != 1 || p.Summary.Unchanged != 1 {
		t.Errorf("summary %+v, changes count %v", p.Summary, counts)
	}
}

// TestPlanNoOpCost: once everything is applied, plan asks no source
// registry anything and sends at most one request per image to the target.
func TestPlanNoOpCost(t *testing.T) {
	s := startStack(t)
	dir, l := appliedExample(t, s)
	hub, quay, target := len(requests(t, s.hub)), len(requests(t, s.quay)), len(requests(t, s.target))
	r := run(t, dir, 0, "plan", "--detailed-exitcode")
	if !strings.Contains(r.stdout, "No changes.") {
		t.Errorf("plan:\n%v", r)
	}
	if reqs := requestsSince(t, s.hub, hub); len(reqs) > 0 {
		t.Errorf("plan sent %d requests to the docker.io stand-in: %v", len(reqs), reqs)
	}
	if reqs := requestsSince(t, s.quay, quay); len(reqs) > 0 {
		t.Errorf("plan sent %d requests to the quay.io stand-in: %v", len(reqs), reqs)
	}
	reqs := requestsSince(t, s.target, target)
	other := withoutPings(reqs)
	t.Logf("no-op plan: %d requests to the target: %d GET /v2/ pings, %d others (%d HEAD manifest)",
		len(reqs), len(reqs)-len(other), len(other), testregistry.Count(reqs, http.MethodHead, testregistry.KindManifest))
	if len(other) > len(l.Images) {
		t.Errorf("plan sent %d requests (pings aside) to the target for %d images", len(other), len(l.Images))
	}
}

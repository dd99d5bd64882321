package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// Issue 19: a saved plan that cannot lie, a lock a reviewer can trust,
// output that cannot inject.

// editPlan rewrites the change of source in a saved plan with edit, as
// whoever holds the CI artifact between the plan and apply jobs can.
func editPlan(t *testing.T, path, source string, edit func(change map[string]any)) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(readFile(t, path)), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range doc["changes"].([]any) {
		if change := c.(map[string]any); change["source"] == source {
			edit(change)
			found = true
		}
	}
	if !found {
		t.Fatalf("%s is not in the plan", source)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(data))
}

// TestEditedSavedPlan: issue 19 case 3. A plan edited after `plan --out`
// to push into another repository, or a digest images.lock does not hold
// for the image, is refused naming the change, and the target receives
// no request at all, let alone a write.
func TestEditedSavedPlan(t *testing.T) {
	s := startStack(t)
	dir, l := lockedExample(t, s)
	redis, nginx := lockedImage(t, l, "docker.io/library/redis:7-alpine"), lockedImage(t, l, "docker.io/library/nginx:1.27-alpine")
	evil := s.target.Host() + "/other-team/anything:" + redis.Target.Tag()
	for _, tt := range []struct {
		name, source string
		edit         func(map[string]any)
		want         string
	}{
		{"target", redis.Ref.String(), func(c map[string]any) { c["target"] = evil },
			"(image docker.io/library/redis:7-alpine): target " + evil + ", images.lock says " + redis.Target.String()},
		{"digest", redis.Ref.String(), func(c map[string]any) { c["digest"] = nginx.Digest.String(); delete(c, "upstream") },
			"(image docker.io/library/redis:7-alpine): digest " + nginx.Digest.String() + ", images.lock says " + redis.Digest.String()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			plan := filepath.Join(dir, "plan-"+tt.name+".json")
			run(t, dir, 0, "plan", "--out", plan)
			editPlan(t, plan, tt.source, tt.edit)
			mark := len(requests(t, s.target))
			r := run(t, dir, 1, "apply", plan)
			for _, want := range []string{"the saved plan does not match images.lock (1 problem); nothing was pushed", tt.want} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("apply of the edited plan lacks %q:\n%v", want, r)
				}
			}
			if reqs := requestsSince(t, s.target, mark); len(reqs) > 0 {
				t.Errorf("the target received %d requests (%d writes) for a refused plan: %v", len(reqs), len(writes(reqs)), reqs)
			}
		})
	}
}

// swapDigest locks ref at other's digest, as a hand edit of images.lock
// does: lock --check cannot tell, since it needs no network.
func swapDigest(t *testing.T, dir, ref, other string) (locked, upstream string) {
	t.Helper()
	path := filepath.Join(dir, "images.lock")
	l := loadLock(t, path)
	img, donor := lockedImage(t, l, ref), lockedImage(t, l, other)
	upstream = img.Digest.String()
	img.Digest, img.MediaType, img.Platforms = donor.Digest, donor.MediaType, donor.Platforms
	if err := lock.WriteFile(path, lock.Format(l)); err != nil {
		t.Fatal(err)
	}
	return donor.Digest.String(), upstream
}

// TestUnusualDigest: issue 19 case 6. A lock whose digest for one image
// was swapped for another's passes lock --check, but plan marks it, with
// both digests, in text, JSON and markdown, and lock --check --online
// fails listing it.
func TestUnusualDigest(t *testing.T) {
	s := startStack(t)
	dir, _ := lockedExample(t, s)
	const ref = "docker.io/library/redis:7-alpine"
	locked, upstream := swapDigest(t, dir, ref, "docker.io/library/nginx:1.27-alpine")
	run(t, dir, 0, "lock", "--check")

	r := run(t, dir, 0, "plan")
	for _, want := range []string{"Warning: 1 locked digest is not what its tag points at upstream now:", "! " + ref,
		"locked    " + locked, "upstream  " + upstream, "which of the two cannot be told"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%v", want, r)
		}
	}
	r = run(t, dir, 0, "plan", "--format", "markdown")
	if !strings.Contains(r.stdout, "### Unusual digests (1)") || !strings.Contains(r.stdout, "`"+upstream+"`") {
		t.Errorf("markdown plan:\n%s", r.stdout)
	}
	r = run(t, dir, 0, "plan", "--json")
	var doc struct {
		Changes []struct {
			Source   string
			Upstream *struct {
				Digest  string
				Unusual bool
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	unusual := 0
	for _, c := range doc.Changes {
		if c.Upstream != nil && c.Upstream.Unusual {
			unusual++
			if c.Source != ref || c.Upstream.Digest != upstream {
				t.Errorf("marked unusual: %s upstream %s", c.Source, c.Upstream.Digest)
			}
		}
	}
	if unusual != 1 {
		t.Errorf("%d changes marked unusual in JSON, want 1", unusual)
	}

	r = run(t, dir, 1, "lock", "--check", "--online")
	for _, want := range []string{"is up to date", "! " + ref, "upstream  " + upstream,
		"imagesync: lock --check --online: 1 locked digest is not what its tag points at upstream now"} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("lock --check --online lacks %q:\n%v", want, r)
		}
	}
	run(t, dir, 0, "lock", "--upgrade", ref)
	if r := run(t, dir, 0, "lock", "--check", "--online"); !strings.Contains(r.stdout, "points at its locked digest") {
		t.Errorf("after lock --upgrade:\n%v", r)
	}
}

// runInJob runs imagesync in dir as a GitHub Actions job does.
func runInJob(t *testing.T, dir, summary string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "GITHUB_ACTIONS=true", "GITHUB_WORKSPACE="+dir, "GITHUB_STEP_SUMMARY="+summary)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run imagesync %v: %v", args, err)
	}
	return r
}

// TestReferrerFailsInGitHubJob: issue 19 case 13. An image lands but its
// referrer cannot be copied (gone upstream since it was locked), in a
// GitHub Actions job: apply panicked annotating it (exit 2, no summary);
// it exits 1, with the summary, the step summary and an annotation.
func TestReferrerFailsInGitHubJob(t *testing.T) {
	upstream, target := referrersAPIRegistry(t), testregistry.StartT(t).Host()
	img := fakeupstream.Image{Ref: "docker.io/plain/app:1", Platforms: []string{"linux/amd64"}, Single: true, Format: fakeupstream.OCI, Base: "alpine"}
	d, err := fakeupstream.Push(context.Background(), img, map[string]string{"docker.io": upstream})
	if err != nil {
		t.Fatal(err)
	}
	subject, err := name.NewDigest(upstream + "/plain/app@" + d)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(subject)
	if err != nil {
		t.Fatal(err)
	}
	art := mutate.Subject(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.example.report.v1+json"),
		v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}).(v1.Image)
	artDigest, err := art.Digest()
	if err != nil {
		t.Fatal(err)
	}
	artRef := subject.Context().Digest(artDigest.String())
	if err := remote.Write(artRef, art); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "images.hcl"), `target { registry = "`+target+`/mirror" }
registry "docker.io" { mirrors = ["http://`+upstream+`"] }
`)
	writeFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  app:\n    image: plain/app:1\n")
	run(t, dir, 0, "lock")
	if !strings.Contains(readFile(t, filepath.Join(dir, "images.lock")), artDigest.String()) {
		t.Fatalf("the referrer is not locked:\n%s", readFile(t, filepath.Join(dir, "images.lock")))
	}
	if err := remote.Delete(artRef); err != nil {
		t.Fatal(err)
	}

	summary := filepath.Join(dir, "summary.md")
	r := runInJob(t, dir, summary, "apply", "--auto-approve")
	if r.code != 1 || strings.Contains(r.stderr, "panic") {
		t.Fatalf("apply exited %d, want 1\n%v", r.code, r)
	}
	for _, want := range []string{"ok, 1 of 1 referrer FAILED", "the image landed, but not all its referrers"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply's summary lacks %q:\n%v", want, r)
		}
	}
	// In a property, ":" is escaped (the host's port).
	if want := ",title=imagesync apply failed for " + strings.ReplaceAll(target, ":", "%3A") + "/mirror/plain/app%3A1::"; !strings.Contains(r.stderr, "::error file=images.lock,line=") || !strings.Contains(r.stderr, want) {
		t.Errorf("no annotation %q:\n%v", want, r)
	}
	if s := readFile(t, summary); !strings.Contains(s, "## imagesync apply") || !strings.Contains(s, "1 of 1 referrer FAILED") {
		t.Errorf("step summary:\n%s", s)
	}
}

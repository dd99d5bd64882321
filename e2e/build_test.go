package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// needBuildah fails (in CI) or skips the test when buildah is missing.
func needBuildah(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("buildah"); err != nil {
		msg := "skipping: buildah is not installed (apt-get install buildah); .ci/run installs it"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// actionLines returns the action lines of a text plan, spaces squeezed.
func actionLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if regexp.MustCompile(`^  [+~=] `).MatchString(l) && strings.Contains(l, " -> ") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
	}
	return lines
}

// TestBuildCycle builds the example's 5 services with buildah from the
// locked bases in the target, and plans rebuilds exactly when inputs change.
func TestBuildCycle(t *testing.T) {
	needBuildah(t)
	s := startStack(t)
	dir := s.example(t)
	run(t, dir, 0, "lock")

	r := run(t, dir, 2, "plan", "--detailed-exitcode")
	if !strings.Contains(r.stdout, "Plan: 15 to create, 0 to update, 5 to build, 0 to rebuild, 0 unchanged.") {
		t.Fatalf("first plan:\n%v", r)
	}
	r = run(t, dir, 0, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "Apply complete! Images: 15 created, 0 updated, 5 built, 0 rebuilt, 0 unchanged.") ||
		!strings.Contains(r.stdout, "saltstack | ") {
		t.Fatalf("first apply:\n%v", r)
	}
	r = run(t, dir, 0, "plan", "--detailed-exitcode")
	if !strings.Contains(r.stdout, "No changes.") {
		t.Errorf("second plan:\n%v", r)
	}

	// The built images stand on the locked bases: jupyterhub's first
	// layers are python:3.13-alpine's (linux/amd64) layers. Compared by
	// diff ID, the digest of the uncompressed content: buildah compresses
	// the layers it pushes itself, so the blob digests may differ.
	l := loadLock(t, filepath.Join(dir, "images.lock"))
	python := lockedImage(t, l, "docker.io/library/python:3.13-alpine")
	baseLayers := diffIDs(t, python.Target.Repository()+"@"+python.Digest.String())
	built := diffIDs(t, l.Build(mustRef(t, "ai-infra-jupyterhub:v0.3.5")).Target.String())
	if len(built) <= len(baseLayers) || strings.Join(built[:len(baseLayers)], ",") != strings.Join(baseLayers, ",") {
		t.Errorf("jupyterhub layers %v do not start with the locked python layers %v", built, baseLayers)
	}

	// A .dockerignore'd file changes nothing.
	writeFile(t, filepath.Join(dir, "src/backend/README.md"), "ignored\n")
	run(t, dir, 0, "lock", "--check")
	run(t, dir, 0, "plan", "--detailed-exitcode")

	// One file of one service: exactly that rebuild.
	writeFile(t, filepath.Join(dir, "src/saltstack/states/top.sls"), "base: {'*': [core]}\n")
	run(t, dir, 0, "lock")
	r = run(t, dir, 2, "plan", "--detailed-exitcode")
	lines := actionLines(r.stdout)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "~ docker.io/library/ai-infra-saltstack:v0.3.5 ") ||
		!strings.Contains(lines[0], "rebuild service saltstack, inputs sha256:") ||
		!strings.Contains(r.stdout, "Plan: 0 to create, 0 to update, 0 to build, 1 to rebuild, 19 unchanged.") {
		t.Fatalf("plan after a context change: %q\n%v", lines, r)
	}
	r = run(t, dir, 0, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "0 built, 1 rebuilt, 19 unchanged.") {
		t.Errorf("rebuild apply:\n%v", r)
	}

	// The python base moves upstream: after lock --upgrade, one update and
	// a rebuild of every service built on python.
	img := seedImage(t, s, "docker.io/library/python:3.13-alpine")
	img.Generation = 1
	if _, err := fakeupstream.Push(context.Background(), img, s.hosts()); err != nil {
		t.Fatal(err)
	}
	run(t, dir, 0, "lock", "--upgrade")
	r = run(t, dir, 2, "plan", "--detailed-exitcode")
	lines = actionLines(r.stdout)
	want := []string{"~ docker.io/library/python:3.13-alpine", "~ docker.io/library/ai-infra-jupyterhub:v0.3.5", "~ docker.io/library/ai-infra-saltstack:v0.3.5"}
	if len(lines) != len(want) {
		t.Fatalf("plan after the base moved: %q", lines)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]+" ") {
			t.Errorf("plan line %d = %q, want %s...", i, lines[i], want[i])
		}
	}
	r = run(t, dir, 0, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "0 created, 1 updated, 0 built, 2 rebuilt, 17 unchanged.") {
		t.Errorf("apply after the base moved:\n%v", r)
	}
	run(t, dir, 0, "plan", "--detailed-exitcode")
	run(t, dir, 0, "verify", "--deep")
}

// TestBuildFailureIsolated breaks one Dockerfile (a COPY of a file the
// context lacks): only that service fails, with the builder's last lines in
// the summary.
func TestBuildFailureIsolated(t *testing.T) {
	needBuildah(t)
	s := startStack(t)
	dir := s.example(t)
	replaceInFile(t, filepath.Join(dir, "src/nginx/Dockerfile"), "COPY conf.d/ /etc/nginx/conf.d/", "COPY conf.d/ /etc/nginx/conf.d/\nCOPY missing.conf /etc/nginx/")
	run(t, dir, 0, "lock")
	r := run(t, dir, 1, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "Apply failed for 1 of 20 images (15 created, 0 updated, 4 built, 0 rebuilt)") ||
		!strings.Contains(r.stdout, "ai-infra-nginx:v0.3.5 (docker.io/library/ai-infra-nginx:v0.3.5): build nginx: buildah build failed: ") ||
		strings.Contains(r.stdout, "build nginx: building service") ||
		!strings.Contains(r.stdout, `nginx | Error: building at STEP "COPY missing.conf /etc/nginx/"`) {
		t.Errorf("apply with a broken Dockerfile:\n%v", r)
	}
	if _, err := remote.Head(mustTag(t, s.target.Host()+"/ai-infra-matrix/ai-infra-nginx:v0.3.5")); err == nil {
		t.Error("the failed build has a tag in the target")
	}
	r = run(t, dir, 2, "plan", "--detailed-exitcode")
	if lines := actionLines(r.stdout); len(lines) != 1 || !strings.HasPrefix(lines[0], "+ docker.io/library/ai-infra-nginx:v0.3.5") {
		t.Errorf("plan after the failure: %q", lines)
	}
}

// TestBuildMissingBuilder: a builder that is not installed is reported
// before anything is pushed.
func TestBuildMissingBuilder(t *testing.T) {
	s := startStack(t)
	dir := s.example(t)
	replaceInFile(t, filepath.Join(dir, "images.hcl"), `kind = "buildah"`, `kind = "buildx"`)
	run(t, dir, 0, "lock")
	before := countWrites(t, s.target)
	r := run(t, dir, 1, "apply", "--auto-approve")
	// This machine may have a docker client without the buildx plugin, or
	// no docker at all: either way the error says what to do.
	if !regexp.MustCompile(`docker( buildx is)? not (found|available): install .* or set builder.kind`).MatchString(r.stderr) {
		t.Errorf("apply without a builder:\n%v", r)
	}
	if after := countWrites(t, s.target); after != before {
		t.Errorf("%d writes reached the target before the missing builder was reported", after-before)
	}
	// Teams that build elsewhere skip the builds and mirror the rest.
	r = run(t, dir, 0, "apply", "--auto-approve", "--skip-builds")
	if !strings.Contains(r.stdout, "Apply complete! Images: 15 created, 0 updated, 0 unchanged.") {
		t.Errorf("apply --skip-builds:\n%v", r)
	}
}

func countWrites(t *testing.T, s *testregistry.Server) int {
	t.Helper()
	reqs, err := s.Requests()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range reqs {
		if r.Method == "PUT" || r.Method == "POST" || r.Method == "PATCH" {
			n++
		}
	}
	return n
}

func mustTag(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// diffIDs lists the layers (uncompressed digests) of the linux/amd64 image
// ref names.
func diffIDs(t *testing.T, ref string) []string {
	t.Helper()
	desc, err := remote.Get(mustTag(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	img, err := desc.Image() // resolves an index to linux/amd64
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range cfg.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out
}

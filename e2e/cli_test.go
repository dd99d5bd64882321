package e2e

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/view"
)

// TestVersion checks that `imagesync version` reports the build info of
// the binary itself (module version, VCS revision when the go command
// recorded one), not a fixed string.
func TestVersion(t *testing.T) {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	want := view.Version(info, "") + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := imagesync(t, t.TempDir(), args...)
		if r.code != 0 || r.stdout != want || r.stderr != "" {
			t.Errorf("imagesync %s: %v\nwant stdout %q", strings.Join(args, " "), r, want)
		}
	}
}

// TestInitThenLock is a newcomer's first two commands on a compose
// repository without images.hcl: init, then lock.
func TestInitThenLock(t *testing.T) {
	s := startStack(t)
	dir := copyExample(t)
	cfg := filepath.Join(dir, "images.hcl")
	if err := os.Remove(cfg); err != nil {
		t.Fatal(err)
	}
	target := s.target.Host() + "/ai-infra-matrix"

	// Without --target and without a terminal to ask on: a usage error.
	r := run(t, dir, 1, "init")
	if !strings.HasPrefix(r.stderr, "imagesync: init: --target REGISTRY is required") {
		t.Errorf("init without --target: %v", r)
	}
	r = run(t, dir, 0, "init", "--target", target)
	for _, want := range []string{"Wrote images.hcl, mirroring to " + target, "compose      ai-infra-matrix: docker-compose.yml (env_files .env)\n",
		"dockerfiles  src/**/Dockerfile* (8 Dockerfiles)\n", "With it, discovery finds 15 images and 5 builds"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("init output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.HasSuffix(r.stdout, "\n  imagesync lock\n") {
		t.Errorf("init does not end with the next command:\n%s", r.stdout)
	}
	written := readFile(t, cfg)

	// init cannot know that this machine reaches docker.io and quay.io only
	// through the test's stand-in registries: these are the registry
	// blocks a user adds for their own mirrors, as init's comments say.
	writeFile(t, cfg, written+fmt.Sprintf("\nregistry \"docker.io\" {\n  mirrors = [%q]\n}\n\nregistry \"quay.io\" {\n  mirrors = [%q]\n}\n",
		s.hub.URL(), s.quay.URL()))
	r = run(t, dir, 0, "lock")
	if !strings.Contains(r.stdout, "Created images.lock: 15 images, 5 builds (20 added") {
		t.Errorf("lock after init: %v", r)
	}
	run(t, dir, 0, "lock", "--check")

	// The same lock as the example's hand-written images.hcl gives.
	handWritten := s.example(t)
	run(t, handWritten, 0, "lock")
	if readFile(t, filepath.Join(dir, "images.lock")) != readFile(t, filepath.Join(handWritten, "images.lock")) {
		t.Errorf("the lock of init's images.hcl differs from the lock of the example's own:\n%s", written)
	}

	// A second init changes nothing.
	before := readFile(t, cfg)
	r = run(t, dir, 1, "init", "--target", target)
	if r.stderr != "imagesync: images.hcl already exists: init never overwrites it; edit it, or remove it and run init again\n" {
		t.Errorf("second init: %v", r)
	}
	if readFile(t, cfg) != before {
		t.Error("a second init changed images.hcl")
	}
}

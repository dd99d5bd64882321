package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/demo"
	"github.com/imagesync/imagesync/internal/view"
)

// TestInitPatterns is a newcomer's first commands on repositories shaped
// like those of issue 20, written for the tests, against the real binary:
// init, then `images --discovered` with no edit lists exactly
// testdata/init/<pattern>/want.txt (the images and builds with the places
// each was found, then the warnings); a second run lists the same; the
// same tree under another folder name gets the same images.hcl and,
// locked against the stand-in registries, the same images.lock.
func TestInitPatterns(t *testing.T) {
	s := startStack(t)
	for _, p := range []struct{ name, tree string }{
		// compose.yaml with layers, a "published images" stack, a test stack in a subfolder, a build without image
		{"layered", "init/layered/repo"},
		// overlays over a shared base and a component, a directory of manifests, a CI workflow
		{"kustomize", "init/kustomize/repo"},
		// FROM ${FROM} without default: the value .env gives, and one a CI file passes
		{"from-arg", "init/from-arg/repo"},
		// a vendored project's compose file, chart and Dockerfiles, a submodule, the repository's own compose template
		{"vendored", "init/vendored/repo"},
		// the trees of TestTestdataRepos, less their hand-written images.hcl: a chart with a randAlphaNum test hook
		// and image annotations, skaffold placeholders, overlays with manifests, layered compose with a test stack
		{"chart-random", "repos/chart-random"},
		{"skaffold", "repos/skaffold"},
		{"kustomize-manifests", "repos/kustomize-manifests"},
		{"layered-compose", "repos/layered-compose"},
	} {
		t.Run(p.name, func(t *testing.T) { testInitPattern(t, s, p.name, filepath.Join("testdata", p.tree)) })
	}
}

func testInitPattern(t *testing.T, s *stack, pattern, src string) {
	target := s.target.Host() + "/" + pattern
	dirs := []string{filepath.Join(t.TempDir(), pattern), filepath.Join(t.TempDir(), "another-clone")}
	var configs, locks []string
	for i, dir := range dirs {
		if err := demo.CopyTree(src, dir); err != nil {
			t.Fatal(err)
		}
		for _, theirs := range []string{"images.hcl", "discovered.txt"} {
			if err := os.Remove(filepath.Join(dir, theirs)); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(dir, ".gitignore"), "node_modules/\n")
		r := run(t, dir, 0, "init", "--target", target)
		if !strings.Contains(r.stdout, "\n  .gitignore   added .imagesync/") || !strings.Contains(r.stdout, "With it, discovery finds ") || r.stderr != "" {
			t.Errorf("init: %v", r)
		}
		if got := readFile(t, filepath.Join(dir, ".gitignore")); got != "node_modules/\n\n# imagesync's cache (charts it fetches)\n/.imagesync/\n" {
			t.Errorf(".gitignore after init: %q", got)
		}
		configs = append(configs, readFile(t, filepath.Join(dir, "images.hcl")))
		if i > 0 {
			continue
		}
		found := discovered(t, dir)
		if want := readFile(t, filepath.Join("testdata", "init", pattern, "want.txt")); found != want {
			t.Errorf("images --discovered with init's images.hcl:\n%s\nwant (testdata/init/%s/want.txt):\n%s\nimages.hcl:\n%s", found, pattern, want, configs[0])
		}
		if again := discovered(t, dir); again != found {
			t.Errorf("a second images --discovered differs:\n%s\nfirst:\n%s", again, found)
		}
		s.seedDiscovered(t, dir)
	}
	if configs[0] != configs[1] {
		t.Errorf("init under another folder name wrote another images.hcl:\n%s\nfirst:\n%s", configs[1], configs[0])
	}
	for _, dir := range dirs {
		// init cannot know that this machine reaches docker.io and quay.io
		// only through the test's stand-in registries: the registry blocks
		// a user adds for their mirrors.
		cfg := filepath.Join(dir, "images.hcl")
		writeFile(t, cfg, readFile(t, cfg)+fmt.Sprintf("\nregistry \"docker.io\" {\n  mirrors = [%q]\n}\n\nregistry \"quay.io\" {\n  mirrors = [%q]\n}\n",
			s.hub.URL(), s.quay.URL()))
		run(t, dir, 0, "lock")
		run(t, dir, 0, "lock", "--check")
		locks = append(locks, readFile(t, filepath.Join(dir, "images.lock")))
	}
	if locks[0] != locks[1] {
		t.Errorf("the same tree under another folder name locks differently:\n%s\nfirst:\n%s", locks[1], locks[0])
	}
}

// discovered is what `imagesync images --discovered` lists in dir, one
// line per image or build and one per place it was found, then what it
// says on stderr (warnings).
func discovered(t *testing.T, dir string) string {
	t.Helper()
	r := run(t, dir, 0, "images", "--discovered", "--format", "json")
	var list view.ImageList
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("images --discovered --format json: %v\n%s", err, r.stdout)
	}
	var b strings.Builder
	for _, img := range list.Images {
		fmt.Fprintf(&b, "image %s\n", img.Reference)
		for _, s := range img.Sources {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	for _, bld := range list.Builds {
		fmt.Fprintf(&b, "build %s (%s, %s)\n", bld.Reference, strings.Join(bld.Services, " "), bld.Dockerfile)
		for _, s := range bld.Sources {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	if r.stderr != "" {
		b.WriteString("stderr:\n" + r.stderr)
	}
	return b.String()
}

// TestInitPlaceholderFailsLock: a FROM argument the repository gives no
// value for is a placeholder in build_args; init says so, and lock fails
// naming the Dockerfile, writing nothing.
func TestInitPlaceholderFailsLock(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "build", "Dockerfile"), "ARG FROM\nFROM ${FROM}\n")
	r := run(t, dir, 0, "init", "--target", "registry.example.com/team")
	if !strings.Contains(r.stdout, "  build_args   FROM (PLACEHOLDER: no value in the repository, set it in images.hcl)\n") ||
		!strings.Contains(r.stdout, `build/Dockerfile:2: FROM ${FROM}: invalid image reference "<set FROM: the repository gives no value for FROM in build/Dockerfile>"`) {
		t.Errorf("init:\n%s", r.stdout)
	}
	r = run(t, dir, 1, "lock")
	if !strings.Contains(r.stderr, "build/Dockerfile:2: FROM ${FROM}: invalid image reference") {
		t.Errorf("lock with the placeholder: %v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "images.lock")); !os.IsNotExist(err) {
		t.Errorf("lock wrote images.lock: %v", err)
	}
}

package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/demo"
	"github.com/imagesync/imagesync/internal/fakeupstream"
)

var updateRepos = flag.Bool("update-repos", false, "rewrite testdata/repos/*/discovered.txt from what images --discovered finds")

// The repositories of testdata/repos, written for the tests, each one of
// the patterns of issue 20 on its own: layered compose files with a test
// stack in a subfolder, kustomize overlays over a shared base with plain
// manifests, a chart with a randAlphaNum test hook and image annotations,
// skaffold placeholders, a FROM ${VAR} without default. Their images.hcl
// name the target and mirrors TARGET, HUB and QUAY.
var testRepos = []string{"chart-random", "from-var", "kustomize-manifests", "layered-compose", "skaffold"}

// TestTestdataRepos runs on each repository what a user runs first:
// images --discovered, twice, whose list must equal discovered.txt (the
// images, builds and where each was found, then the warnings) and be the
// same bytes both times; then lock in two copies of the tree under other
// folder names, which must write the same images.lock.
func TestTestdataRepos(t *testing.T) {
	s := startStack(t)
	for _, name := range testRepos {
		t.Run(name, func(t *testing.T) {
			dirs := []string{s.testRepo(t, name, name), s.testRepo(t, name, "clone-2")}
			list := discoveredTwice(t, dirs[0])
			expected := filepath.Join("testdata", "repos", name, "discovered.txt")
			if *updateRepos {
				writeFile(t, expected, list)
			}
			if want := readFile(t, expected); list != want {
				t.Errorf("images --discovered differs from %s (go test ./e2e -run TestTestdataRepos -update-repos rewrites it):\n%s", expected, list)
			}
			s.seedDiscovered(t, dirs[0])
			var locks []string
			for _, dir := range dirs {
				run(t, dir, 0, "lock")
				run(t, dir, 0, "lock", "--check")
				locks = append(locks, readFile(t, filepath.Join(dir, "images.lock")))
			}
			if locks[0] != locks[1] {
				t.Errorf("the same tree under another folder name locks differently:\n%s\n---\n%s", locks[0], locks[1])
			}
		})
	}
}

// testRepo copies testdata/repos/<name> to a new directory called folder,
// its images.hcl pointed at the stack.
func (s *stack) testRepo(t *testing.T, name, folder string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), folder)
	if err := demo.CopyTree(filepath.Join("testdata", "repos", name), dir); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "images.hcl")
	replaceInFile(t, cfg, "TARGET", s.target.Host())
	replaceInFile(t, cfg, "HUB", s.hub.URL())
	replaceInFile(t, cfg, "QUAY", s.quay.URL())
	os.Remove(filepath.Join(dir, "discovered.txt"))
	return dir
}

// discoveredTwice runs images --discovered twice, in text and in JSON, and
// returns the list: every image and build with the places it was found at,
// then the warnings.
func discoveredTwice(t *testing.T, dir string) string {
	t.Helper()
	var lists []string
	for range 2 {
		text := run(t, dir, 0, "images", "--discovered")
		js := run(t, dir, 0, "images", "--discovered", "--json")
		lists = append(lists, text.stdout+text.stderr+"\n"+js.stdout)
	}
	if lists[0] != lists[1] {
		t.Errorf("two runs of images --discovered differ:\n%s\n---\n%s", lists[0], lists[1])
	}
	var list struct {
		Images []struct {
			Reference string   `json:"reference"`
			Sources   []string `json:"sources"`
		} `json:"images"`
		Builds []struct {
			Reference  string   `json:"reference"`
			Services   []string `json:"services"`
			Dockerfile string   `json:"dockerfile"`
			Bases      []string `json:"bases"`
			Sources    []string `json:"sources"`
		} `json:"builds"`
	}
	js := run(t, dir, 0, "images", "--discovered", "--json")
	if err := json.Unmarshal([]byte(js.stdout), &list); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, img := range list.Images {
		fmt.Fprintf(&b, "image %s\n  <- %s\n", img.Reference, strings.Join(img.Sources, "\n  <- "))
	}
	for _, bl := range list.Builds {
		fmt.Fprintf(&b, "build %s (%s, %s, bases %s)\n  <- %s\n", bl.Reference, strings.Join(bl.Services, ", "), bl.Dockerfile,
			strings.Join(bl.Bases, ", "), strings.Join(bl.Sources, "\n  <- "))
	}
	for _, line := range strings.Split(strings.TrimSpace(js.stderr), "\n") {
		if line != "" {
			fmt.Fprintf(&b, "%s\n", line)
		}
	}
	return b.String()
}

// seedDiscovered pushes to the stand-ins for docker.io and quay.io every
// image the repository in dir needs that the stack's seed lacks.
func (s *stack) seedDiscovered(t *testing.T, dir string) {
	t.Helper()
	var list struct {
		Images []struct {
			Reference string `json:"reference"`
		} `json:"images"`
	}
	js := run(t, dir, 0, "images", "--discovered", "--json")
	if err := json.Unmarshal([]byte(js.stdout), &list); err != nil {
		t.Fatal(err)
	}
	var missing []fakeupstream.Image
	for _, img := range list.Images {
		if !slices.ContainsFunc(s.images, func(i fakeupstream.Image) bool { return i.Ref == img.Reference }) {
			missing = append(missing, fakeupstream.Image{Ref: img.Reference, Platforms: []string{"linux/amd64", "linux/arm64"}, Base: "alpine"})
		}
	}
	if err := fakeupstream.PushAll(t.Context(), missing, s.hosts()); err != nil {
		t.Fatal(err)
	}
	s.images = append(s.images, missing...)
}

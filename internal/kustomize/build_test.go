package kustomize

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/imagesync/imagesync/internal/repofs"
)

func testRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// build builds the kustomization dir of the repository root.
func build(t *testing.T, root, dir string) (*Built, error) {
	t.Helper()
	repo, err := repofs.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	return Build(repo, dir)
}

func TestBuildOverlay(t *testing.T) {
	root := testRoot(t)
	built, err := build(t, root, filepath.Join(root, "overlays", "prod"))
	if err != nil {
		t.Fatal(err)
	}
	// The objects are those kustomize build prints.
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "overlays", "prod"))
	if err != nil {
		t.Fatal(err)
	}
	printed, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var want []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(printed))
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		want = append(want, obj)
	}
	if !reflect.DeepEqual(built.Objects, want) {
		t.Errorf("objects differ from kustomize build's:\n%v\n%v", built.Objects, want)
	}
	got := string(printed)
	for _, want := range []string{
		"name: prod-web", "namespace: prod", "name: prod-cleanup",
		"image: registry.example.com/mirror/nginx:1.28-alpine", // renamed by images:
		"image: busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111",
		"image: nginx/nginx-prometheus-exporter:1.1", // from the component; "nginx/..." is another image than "nginx"
	} {
		if !strings.Contains(got, want) {
			t.Errorf("build output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "nginx:1.27-alpine") {
		t.Errorf("the images: transformer did not apply:\n%s", got)
	}
}

func writeKustomization(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBuildRefusesRemote(t *testing.T) {
	tests := []struct {
		name, kustomization, want string
	}{
		{"github base", "resources:\n  - github.com/org/repo//deploy?ref=v1\n", `resources: "github.com/org/repo//deploy?ref=v1" is a remote reference`},
		{"https file", "resources:\n  - https://example.com/app.yaml\n", `"https://example.com/app.yaml"`},
		{"scp git", "components:\n  - git@gitlab.example.com:org/repo.git//c\n", "components:"},
		{"remote patch", "patches:\n  - path: https://example.com/p.yaml\n", "patches.path:"},
		{"legacy bases", "bases:\n  - ssh://git@example.com/org/repo\n", "resources:"},
		{"generator file", "configMapGenerator:\n  - name: c\n    files:\n      - k=https://example.com/f\n", "configMapGenerator:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeKustomization(t, filepath.Join(root, "app"), tt.kustomization)
			_, err := build(t, root, filepath.Join(root, "app"))
			if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), tt.want) ||
				!strings.Contains(err.Error(), "app/kustomization.yaml") {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("in a base the overlay uses", func(t *testing.T) {
		root := t.TempDir()
		writeKustomization(t, filepath.Join(root, "base"), "resources:\n  - github.com/org/repo\n")
		writeKustomization(t, filepath.Join(root, "overlay"), "resources:\n  - ../base\n")
		_, err := build(t, root, filepath.Join(root, "overlay"))
		if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "base/kustomization.yaml") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestBuildRefusesOutsideRepository: nothing kustomize reads may leave
// the repository, whether a path climbs out or a link points out: a base,
// the kustomization directory itself, a resource, a patch, a generator's
// file. A link that stays inside is followed.
func TestBuildRefusesOutsideRepository(t *testing.T) {
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
	tests := []struct {
		name  string
		files map[string]string // "repo/..." and "outside/..."; a value "-> x" is a link to x
		dir   string
		want  string // "" builds; {parent} is the directory holding repo and outside
	}{{
		name:  "a base that climbs out",
		files: map[string]string{"repo/app/kustomization.yaml": "resources:\n  - ../../outside\n", "outside/kustomization.yaml": "resources: []\n"},
		dir:   "app", want: `app/kustomization.yaml: resources: "../../outside": {parent}/outside is outside the repository: imagesync reads no file outside it`,
	}, {
		name: "a base that is a link out",
		files: map[string]string{"repo/app/kustomization.yaml": "resources:\n  - ../base\n", "repo/base": "-> ../outside",
			"outside/kustomization.yaml": "resources: [cm.yaml]\n", "outside/cm.yaml": cm},
		dir: "app", want: `app/kustomization.yaml: resources: "../base": base is a symbolic link to "../outside", outside the repository`,
	}, {
		name:  "the kustomization directory is a link out",
		files: map[string]string{"repo/app": "-> ../outside", "outside/kustomization.yaml": "resources: [cm.yaml]\n", "outside/cm.yaml": cm},
		dir:   "app", want: `app is a symbolic link to "../outside"`,
	}, {
		name:  "a resource file that is a link out",
		files: map[string]string{"repo/app/kustomization.yaml": "resources: [cm.yaml]\n", "repo/app/cm.yaml": "-> ../../outside/cm.yaml", "outside/cm.yaml": cm},
		dir:   "app", want: `app/cm.yaml is a symbolic link to "../../outside/cm.yaml", outside the repository`,
	}, {
		name: "a patch that links to the environment",
		files: map[string]string{"repo/app/kustomization.yaml": "resources: [cm.yaml]\npatches:\n  - path: p.yaml\n",
			"repo/app/cm.yaml": cm, "repo/app/p.yaml": "-> /proc/self/environ"},
		dir: "app", want: `app/p.yaml is a symbolic link to "/proc/self/environ"`,
	}, {
		name: "a generator file that links out",
		files: map[string]string{"repo/app/kustomization.yaml": "configMapGenerator:\n  - name: g\n    files: [secret]\n",
			"repo/app/secret": "-> ../../outside/secret", "outside/secret": "CI_SECRET_TOKEN=s3cr3t"},
		dir: "app", want: `app/secret is a symbolic link to "../../outside/secret"`,
	}, {
		name: "links inside are followed",
		files: map[string]string{"repo/app/kustomization.yaml": "resources:\n  - ../base-link\n", "repo/base-link": "-> base",
			"repo/base/kustomization.yaml": "resources: [cm.yaml]\n", "repo/base/cm.yaml": cm},
		dir: "app",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			for name, content := range tt.files {
				p := filepath.Join(parent, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				var err error
				if target, ok := strings.CutPrefix(content, "-> "); ok {
					err = os.Symlink(target, p)
				} else {
					err = os.WriteFile(p, []byte(content), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			out, err := build(t, filepath.Join(parent, "repo"), tt.dir)
			want := strings.ReplaceAll(tt.want, "{parent}", parent)
			switch {
			case want == "" && (err != nil || !hasKind(out, "ConfigMap")):
				t.Errorf("build: %v, %v", out, err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("err = %v, want %q", err, want)
			case err != nil && (strings.Contains(err.Error(), "s3cr3t") || !errors.Is(err, repofs.ErrOutside)):
				t.Errorf("err = %v: not an ErrOutside, or it shows what lies outside", err)
			}
		})
	}
}

// TestRemoteAgreesWithKustomize holds remote to what kustomize does: with
// no git on PATH, kustomize fails on cloning exactly the entries remote
// calls remote, and reads the others as local paths. http(s) URLs are
// left out here: kustomize would GET them, and tests reach no network
// (TestBuildRefusesRemote shows they never get that far).
func TestRemoteAgreesWithKustomize(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no git: a clone fails at once
	for _, entry := range []string{
		"github.com/org/repo", "GitHub.com/org/repo//dir?ref=v1", "github.com:org/repo", "git@gitlab.example.com:org/repo.git",
		"ssh://git@example.com/org/repo", "git::ssh://example.com/org/repo",
		"file:///srv/repo", "gitlab.example.com/org/repo", "local/dir", "org/repo", "repo.git",
	} {
		t.Run(entry, func(t *testing.T) {
			root := t.TempDir()
			writeKustomization(t, filepath.Join(root, "app"), "resources:\n  - "+entry+"\n")
			_, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "app"))
			if err == nil {
				t.Fatal("kustomize built a missing resource")
			}
			cloned := strings.Contains(err.Error(), "git") && (strings.Contains(err.Error(), "executable file not found") ||
				strings.Contains(err.Error(), "no 'git' program"))
			if remote(entry) != cloned {
				t.Errorf("remote(%q) = %v, but kustomize tried to clone: %v (%v)", entry, remote(entry), cloned, err)
			}
		})
	}
}

// TestBuildReportsEveryProblem: every remote reference and every directory
// outside the repository, in the overlay and in the bases it uses, comes
// in one error, where kustomize stops at the first.
func TestBuildReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	writeKustomization(t, filepath.Join(dir, "outside"), "resources: []\n")
	root := filepath.Join(dir, "repo")
	writeKustomization(t, filepath.Join(root, "base"), "resources:\n  - github.com/org/one\n  - ../../outside\n")
	writeKustomization(t, filepath.Join(root, "overlay"), "resources:\n  - ../base\n  - https://example.com/two.yaml\n"+
		"components:\n  - git@example.com:org/three.git\n")
	_, err := build(t, root, filepath.Join(root, "overlay"))
	for _, want := range []string{
		`overlay/kustomization.yaml: resources: "https://example.com/two.yaml" is a remote reference`,
		`overlay/kustomization.yaml: components: "git@example.com:org/three.git" is a remote reference`,
		`base/kustomization.yaml: resources: "github.com/org/one" is a remote reference`,
		`base/kustomization.yaml: resources: "../../outside": ` + filepath.Join(dir, "outside") + " is outside the repository: imagesync reads no file outside it",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// TestBuildWarnings: kustomize's deprecation notices come back once per
// kustomization that has them, naming its file; every notice kustomize
// prints is one DeprecationNotices lists.
func TestBuildWarnings(t *testing.T) {
	root := t.TempDir()
	writeKustomization(t, filepath.Join(root, "base"), "commonLabels: {app: web}\nresources: [web.yaml]\n")
	if err := os.WriteFile(filepath.Join(root, "base", "web.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeKustomization(t, filepath.Join(root, "overlay"), "bases: [../base]\npatchesStrategicMerge: []\n")
	built, err := build(t, root, filepath.Join(root, "overlay"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"overlay/kustomization.yaml: Warning: 'bases' is deprecated. Please use 'resources' instead. Run 'kustomize edit fix' to update your Kustomization automatically.",
		"overlay/kustomization.yaml: Warning: 'patchesStrategicMerge' is deprecated. Please use 'patches' instead. Run 'kustomize edit fix' to update your Kustomization automatically.",
		"base/kustomization.yaml: Warning: 'commonLabels' is deprecated. Please use 'labels' instead. Run 'kustomize edit fix' to update your Kustomization automatically.",
	}
	if strings.Join(built.Warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s", strings.Join(built.Warnings, "\n"))
	}
	notices := DeprecationNotices()
	if len(notices) != 6 {
		t.Errorf("notices = %q", notices)
	}
	for _, w := range built.Warnings {
		_, notice, _ := strings.Cut(w, ": ")
		if !slices.Contains(notices, "# "+notice) {
			t.Errorf("%q is not among DeprecationNotices", notice)
		}
	}
	if got := strings.Join(built.Used, " "); got != filepath.Join(root, "overlay")+" "+filepath.Join(root, "base")+" "+filepath.Join(root, "base", "web.yaml") {
		t.Errorf("used = %s", got)
	}
}

// hasKind reports whether b built an object of kind.
func hasKind(b *Built, kind string) bool {
	for _, o := range b.Objects {
		if o["kind"] == kind {
			return true
		}
	}
	return false
}

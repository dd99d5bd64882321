//go:build linux

package workspace

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/imagesync/imagesync/internal/repofs/repofstest"
)

// The hostile-link walk: every reader of the repository's files (the
// config, the lock and its sidecar, compose files, env files, include,
// extends, Dockerfiles, .dockerignore, build context files, charts, the
// files templates read, values files, kustomizations and their bases,
// manifests) gets its input replaced by each kind of hostile link (to a
// file outside holding a secret, relative and absolute, chained, through a
// directory, to /proc/self/environ, to /dev/zero) and by a FIFO. Each must
// be refused with an error naming the link and its target, the secret must
// appear in no error, and nothing outside the repository may be opened.

const confineSecret = "CI_SECRET_TOKEN=s3cr3t-confine"

// confineRepo is a repository that uses every reader once.
var confineRepo = map[string]string{
	"images.hcl": `target { registry = "registry.example.com/mirror" }
discover {
  compose     = ["compose.yaml"]
  dockerfiles = ["docker/**/Dockerfile"]
  kubernetes  = ["k8s/*.yaml"]
  kustomize   = ["kustomize/overlay"]
  helm "app" {
    chart  = "charts/app"
    values = ["values/prod.yaml"]
  }
}
`,
	"images.lock":                          "# This file is maintained automatically by \"imagesync lock\".\n",
	".env":                                 "TAG=1.27\n",
	"compose.yaml":                         "include:\n  - path: inc/compose.yaml\n    env_file: inc/inc.env\nservices:\n  web:\n    image: \"nginx:${TAG}\"\n  app:\n    image: app:1\n    build: app\n  base:\n    extends: {file: common/base.yaml, service: base}\n",
	"inc/compose.yaml":                     "services:\n  api:\n    image: \"api:${API_TAG}\"\n",
	"inc/inc.env":                          "API_TAG=2\n",
	"common/base.yaml":                     "services:\n  base:\n    image: busybox:1.36\n",
	"app/Dockerfile":                       "FROM alpine:3.20\n",
	"app/.dockerignore":                    "*.log\n",
	"app/main.go":                          "package main\n",
	"docker/tool/Dockerfile":               "FROM debian:12\n",
	"k8s/pod.yaml":                         "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: \"redis:7\"}]\n",
	"kustomize/base/kustomization.yaml":    "resources: [pod.yaml]\n",
	"kustomize/base/pod.yaml":              "apiVersion: v1\nkind: Pod\nmetadata: {name: k}\nspec:\n  containers: [{name: c, image: \"memcached:1.6\"}]\n",
	"kustomize/overlay/kustomization.yaml": "resources: [../base]\n",
	"charts/app/Chart.yaml":                "apiVersion: v2\nname: app\nversion: 1.0.0\n",
	"charts/app/values.yaml":               "tag: \"1\"\n",
	"charts/app/files/data":                "hello\n",
	"charts/app/templates/pod.yaml":        "apiVersion: v1\nkind: Pod\nmetadata: {name: h}\nannotations: {data: {{ .Files.Get \"files/data\" | quote }}}\nspec:\n  containers: [{name: c, image: \"postgres:{{ .Values.tag }}\"}]\n",
	"values/prod.yaml":                     "tag: \"16\"\n",
}

// confineReader is one reader: the path it reads and what runs it.
type confineReader struct {
	path string
	dir  bool   // the reader takes a directory
	op   string // "open", "discover", "check", "locked", "lock"
}

var confineReaders = []confineReader{
	{path: "images.hcl", op: "open"},
	{path: "images.lock", op: "locked"},
	{path: "images.lock.lock", op: "lock"},
	{path: "compose.yaml", op: "discover"},
	{path: ".env", op: "discover"},
	{path: "inc/compose.yaml", op: "discover"},
	{path: "inc/inc.env", op: "discover"},
	{path: "common/base.yaml", op: "discover"},
	{path: "app/Dockerfile", op: "discover"},
	{path: "docker/tool/Dockerfile", op: "discover"},
	{path: "app/.dockerignore", op: "check"},
	{path: "app/main.go", op: "check"},
	{path: "charts/app", dir: true, op: "discover"},
	{path: "charts/app/files/data", op: "discover"},
	{path: "values/prod.yaml", op: "discover"},
	{path: "kustomize/overlay", dir: true, op: "discover"},
	{path: "kustomize/base", dir: true, op: "discover"},
	{path: "k8s/pod.yaml", op: "discover"},
}

// confineKind makes path hostile in the tree at parent (repo/ and
// outside/, where outside/<path> is a copy of what the repository held)
// and returns the error texts the reader may give (one must appear); none
// means the reader does not reach the link and reads nothing through it.
type confineKind struct {
	name string
	make func(t *testing.T, parent, path string) []string
}

var confineKinds = []confineKind{
	{"relative link out", func(t *testing.T, parent, path string) []string {
		target, _ := filepath.Rel(filepath.Dir(filepath.Join(parent, "repo", path)), filepath.Join(parent, "outside", path))
		link(t, target, filepath.Join(parent, "repo", path))
		return []string{fmt.Sprintf("%s is a symbolic link to %q", path, target)}
	}},
	{"absolute link out", func(t *testing.T, parent, path string) []string {
		target := filepath.Join(parent, "outside", path)
		link(t, target, filepath.Join(parent, "repo", path))
		return []string{fmt.Sprintf("%s is a symbolic link to %q", path, target)}
	}},
	{"chained links out", func(t *testing.T, parent, path string) []string {
		hop := path + ".hop"
		target, _ := filepath.Rel(filepath.Dir(filepath.Join(parent, "repo", path)), filepath.Join(parent, "outside", path))
		link(t, target, filepath.Join(parent, "repo", hop))
		link(t, filepath.Base(hop), filepath.Join(parent, "repo", path))
		if strings.HasSuffix(path, ".lock.lock") { // opened without following any link: the first is named
			return []string{fmt.Sprintf("%s is a symbolic link to %q", path, filepath.Base(hop))}
		}
		return []string{fmt.Sprintf("symbolic link %s points to %q, outside the repository", hop, target)}
	}},
	{"a directory on the way links out", func(t *testing.T, parent, path string) []string {
		dir := filepath.Dir(path)
		if dir == "." {
			t.Skip("at the root: no directory on the way")
		}
		os.RemoveAll(filepath.Join(parent, "repo", dir))
		target, _ := filepath.Rel(filepath.Dir(filepath.Join(parent, "repo", dir)), filepath.Join(parent, "outside", dir))
		link(t, target, filepath.Join(parent, "repo", dir))
		if path == "docker/tool/Dockerfile" {
			return nil // a ** glob does not enter a linked directory, as docker does not
		}
		return []string{fmt.Sprintf("symbolic link %s points to %q, outside the repository", dir, target),
			fmt.Sprintf("%s is a symbolic link to %q, outside the repository", dir, target)} // met by a walk of its parent
	}},
	{"link to the environment", func(t *testing.T, parent, path string) []string {
		link(t, "/proc/self/environ", filepath.Join(parent, "repo", path))
		return []string{fmt.Sprintf("%s is a symbolic link to \"/proc/self/environ\"", path)}
	}},
	{"link to /dev/zero", func(t *testing.T, parent, path string) []string {
		link(t, "/dev/zero", filepath.Join(parent, "repo", path))
		return []string{fmt.Sprintf("%s is a symbolic link to \"/dev/zero\"", path)}
	}},
	{"a FIFO", func(t *testing.T, parent, path string) []string {
		if path == "app/main.go" {
			t.Skip("a FIFO in a build context is recorded, never opened (TestFingerprintHostileContext)")
		}
		if err := syscall.Mkfifo(filepath.Join(parent, "repo", path), 0o644); err != nil {
			t.Fatal(err)
		}
		return []string{path + " is a FIFO"}
	}},
}

func link(t *testing.T, target, at string) {
	t.Helper()
	if err := os.Symlink(target, at); err != nil {
		t.Fatal(err)
	}
}

// confineTree writes the repository under parent/repo, a copy of it
// (with the secret in every file) under parent/outside, and removes the
// reader's path from the repository.
func confineTree(t *testing.T, path string) string {
	t.Helper()
	parent := t.TempDir()
	for _, name := range slices.Sorted(maps.Keys(confineRepo)) {
		for _, side := range []string{"repo", "outside"} {
			content := confineRepo[name]
			if side == "outside" {
				content += "\n# " + confineSecret + "\n"
			}
			p := filepath.Join(parent, side, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(parent, "outside", path), []byte(confineSecret+"\n"), 0o644); err != nil && !os.IsExist(err) {
		if _, serr := os.Stat(filepath.Join(parent, "outside", path)); serr != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(parent, "repo", path)); err != nil {
		t.Fatal(err)
	}
	return parent
}

// runReader runs what reads r.path in the repository at dir.
func runReader(t *testing.T, dir string, r confineReader) error {
	t.Helper()
	ctx := context.Background()
	w, err := Open(Options{ConfigFile: filepath.Join(dir, "images.hcl")})
	if err != nil || r.op == "open" {
		return err
	}
	switch r.op {
	case "discover":
		_, err = w.Discover(ctx)
	case "check":
		_, err = w.CheckLock(ctx)
	case "locked":
		_, err = w.LockedImages()
	case "lock":
		_, err = w.Lock(ctx, LockOptions{})
	}
	return err
}

func TestEveryReaderRefusesHostileLinks(t *testing.T) {
	// The repository as written reads fine: each failure below is the
	// hostile link's.
	base := confineTree(t, "unused")
	for _, r := range confineReaders {
		if r.op == "lock" {
			continue // would resolve images at registries
		}
		if err := runReader(t, filepath.Join(base, "repo"), r); err != nil && r.op != "check" {
			t.Fatalf("the repository as written: %s: %v", r.op, err)
		}
	}
	for _, r := range confineReaders {
		for _, kind := range confineKinds {
			t.Run(r.path+"/"+kind.name, func(t *testing.T) {
				parent := confineTree(t, r.path)
				if r.dir {
					os.RemoveAll(filepath.Join(parent, "outside", r.path))
					if err := os.CopyFS(filepath.Join(parent, "outside", r.path), os.DirFS(filepath.Join(base, "outside", r.path))); err != nil {
						t.Fatal(err)
					}
				}
				want := kind.make(t, parent, r.path)
				watch := repofstest.Watch(t, filepath.Join(parent, "outside"))
				err := runReader(t, filepath.Join(parent, "repo"), r)
				switch {
				case want == nil && err != nil:
					t.Errorf("%s: %v", r.op, err)
				case want != nil && (err == nil || !slices.ContainsFunc(want, func(w string) bool { return strings.Contains(err.Error(), w) })):
					t.Fatalf("%s: error %v\nwant one containing %q", r.op, err, want)
				case err != nil && strings.Contains(err.Error(), "s3cr3t"):
					t.Errorf("the error shows what lies outside: %v", err)
				}
				if opened := watch.Opened(); len(opened) > 0 {
					t.Errorf("opened outside the repository: %v", opened)
				}
				if r.op == "lock" {
					if got, err := os.ReadFile(filepath.Join(parent, "outside", r.path)); err != nil || !strings.Contains(string(got), confineSecret) {
						t.Errorf("the sidecar's target was changed: %q, %v", got, err)
					}
				}
			})
		}
	}
	t.Logf("%d readers x %d kinds", len(confineReaders), len(confineKinds))
}

package fingerprint

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// fpFiles is the repository most fingerprint tests start from: a context
// "app" with an executable, a symbolic link, a subdirectory and files its
// .dockerignore leaves out, and a file outside the context.
var fpFiles = map[string]string{
	"app/Dockerfile":    "FROM alpine\nCOPY . /app\n",
	"app/.dockerignore": "*.log\nbuild/\n",
	"app/main.go":       "package main\n",
	"app/run.sh":        "#!/bin/sh\n", // made executable by newFPRepo
	"app/lib/util.go":   "package lib\n",
	"app/link":          symlinkPrefix + "main.go",
	"app/debug.log":     "noise\n",
	"app/build/out.bin": "binary\n",
	"README.md":         "not in the context\n",
}

// symlinkPrefix marks a fixture entry that is a symbolic link to the rest
// of the value rather than a file with that content.
const symlinkPrefix = "symlink:"

// newFPRepo writes files into a new repository <tmp>/shop and returns its
// path; "../outside/x" lands next to it, outside the repository.
func newFPRepo(t testing.TB, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "shop")
	writeRepo(t, root, slices.Sorted(maps.Keys(files)), files)
	if _, ok := files["app/run.sh"]; ok {
		chmod(t, root, "app/run.sh", 0o755)
	}
	return root
}

// writeRepo writes files into root in the given order, a value with
// symlinkPrefix as a symbolic link.
func writeRepo(t testing.TB, root string, order []string, files map[string]string) {
	t.Helper()
	for _, rel := range order {
		if target, ok := strings.CutPrefix(files[rel], symlinkPrefix); ok {
			symlink(t, root, rel, target)
		} else {
			write(t, root, rel, files[rel])
		}
	}
}

func fpBuild() *Build {
	return &Build{
		Context:    "app",
		Dockerfile: "app/Dockerfile",
		Args:       map[string]string{"A": "1", "B": "2"},
		Platforms:  []string{"linux/amd64"},
	}
}

func fingerprint(t testing.TB, root string, b *Build) digest.Digest {
	t.Helper()
	d, err := Sum(root, *b)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("invalid digest %q: %v", d, err)
	}
	return d
}

func write(t testing.TB, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func chmod(t testing.TB, root, rel string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(filepath.Join(root, filepath.FromSlash(rel)), mode); err != nil {
		t.Fatal(err)
	}
}

func rename(t testing.TB, root, from, to string) {
	t.Helper()
	if err := os.Rename(filepath.Join(root, filepath.FromSlash(from)), filepath.Join(root, filepath.FromSlash(to))); err != nil {
		t.Fatal(err)
	}
}

func remove(t testing.TB, root, rel string) {
	t.Helper()
	if err := os.Remove(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, root, rel, target string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.FromSlash(target), p); err != nil {
		t.Fatal(err)
	}
}

func touch(t testing.TB, root, rel string, when time.Time) {
	t.Helper()
	if err := os.Chtimes(filepath.Join(root, filepath.FromSlash(rel)), when, when); err != nil {
		t.Fatal(err)
	}
}

// fpChange is one edit of a repository and whether it must change the
// build's fingerprint.
type fpChange struct {
	name    string
	change  func(t *testing.T, root string, b *Build)
	changed bool
}

// checkChanges applies each change to a fresh repository of files and
// compares the fingerprint before and after.
func checkChanges(t *testing.T, files map[string]string, build func() *Build, tests []fpChange) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newFPRepo(t, files)
			b := build()
			before := fingerprint(t, root, b)
			if again := fingerprint(t, root, b); again != before {
				t.Fatalf("not stable: %s then %s", before, again)
			}
			tt.change(t, root, b)
			after := fingerprint(t, root, b)
			if changed := after != before; changed != tt.changed {
				t.Errorf("fingerprint changed = %v, want %v (%s -> %s)", changed, tt.changed, before, after)
			}
		})
	}
}

func TestFingerprintChanges(t *testing.T) {
	past := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	checkChanges(t, fpFiles, fpBuild, []fpChange{
		// What decides the image.
		{"context file content", func(t *testing.T, root string, b *Build) { write(t, root, "app/main.go", "package main // v2\n") }, true},
		{"file in a subdirectory", func(t *testing.T, root string, b *Build) { write(t, root, "app/lib/util.go", "package lib // v2\n") }, true},
		{"file added", func(t *testing.T, root string, b *Build) { write(t, root, "app/new.txt", "") }, true},
		{"file removed", func(t *testing.T, root string, b *Build) { remove(t, root, "app/lib/util.go") }, true},
		{"file renamed", func(t *testing.T, root string, b *Build) { rename(t, root, "app/lib/util.go", "app/lib/util2.go") }, true},
		{"file moved to another directory", func(t *testing.T, root string, b *Build) { rename(t, root, "app/lib/util.go", "app/util.go") }, true},
		{"executable bit set", func(t *testing.T, root string, b *Build) { chmod(t, root, "app/main.go", 0o755) }, true},
		{"executable bit cleared", func(t *testing.T, root string, b *Build) { chmod(t, root, "app/run.sh", 0o644) }, true},
		{"symlink target", func(t *testing.T, root string, b *Build) { symlink(t, root, "app/link", "lib/util.go") }, true},
		{"symlink replaced by a file", func(t *testing.T, root string, b *Build) {
			remove(t, root, "app/link")
			write(t, root, "app/link", "main.go")
		}, true},
		{".dockerignore edited", func(t *testing.T, root string, b *Build) { write(t, root, "app/.dockerignore", "build/\n") }, true},
		{"Dockerfile", func(t *testing.T, root string, b *Build) {
			write(t, root, "app/Dockerfile", "FROM alpine\nCOPY . /srv\n")
		}, true},
		{"arg value", func(t *testing.T, root string, b *Build) { b.Args["A"] = "3" }, true},
		{"arg added", func(t *testing.T, root string, b *Build) { b.Args["C"] = "" }, true},
		{"arg renamed", func(t *testing.T, root string, b *Build) { delete(b.Args, "B"); b.Args["C"] = "2" }, true},
		{"target stage", func(t *testing.T, root string, b *Build) { b.Target = "runtime" }, true},
		{"platform added", func(t *testing.T, root string, b *Build) { b.Platforms = append(b.Platforms, "linux/arm64") }, true},
		{"platform replaced", func(t *testing.T, root string, b *Build) { b.Platforms = []string{"linux/arm64"} }, true},

		// What does not.
		{"ignored file changes", func(t *testing.T, root string, b *Build) { write(t, root, "app/debug.log", "more noise\n") }, false},
		{"ignored file appears", func(t *testing.T, root string, b *Build) { write(t, root, "app/trace.log", "x") }, false},
		// As in docker, "*.log" is anchored at the context: lib/trace.log is not ignored.
		{"*.log only ignores top-level files", func(t *testing.T, root string, b *Build) { write(t, root, "app/lib/trace.log", "x") }, true},
		{"file in an ignored directory", func(t *testing.T, root string, b *Build) {
			write(t, root, "app/build/out.bin", "other\n")
			write(t, root, "app/build/sub/new", "x")
		}, false},
		{"modification times", func(t *testing.T, root string, b *Build) {
			for _, rel := range []string{"app/main.go", "app/Dockerfile", "app/lib", "app", "app/run.sh"} {
				touch(t, root, rel, past)
			}
		}, false},
		{"group and other write bits", func(t *testing.T, root string, b *Build) { chmod(t, root, "app/main.go", 0o664) }, false},
		{"read-only file", func(t *testing.T, root string, b *Build) { chmod(t, root, "app/main.go", 0o444) }, false},
		{"executable for more users", func(t *testing.T, root string, b *Build) { chmod(t, root, "app/run.sh", 0o775) }, false},
		{"file outside the context", func(t *testing.T, root string, b *Build) { write(t, root, "README.md", "edited\n") }, false},
	})
}

func TestFingerprintInline(t *testing.T) {
	inline := func() *Build {
		b := fpBuild()
		b.Dockerfile = "compose.yaml#services.app.build.dockerfile_inline"
		b.Inline = []byte("FROM alpine\nCOPY . /app\n")
		return b
	}
	checkChanges(t, fpFiles, inline, []fpChange{
		{"inline content", func(t *testing.T, root string, b *Build) { b.Inline = []byte("FROM alpine\nCOPY . /srv\n") }, true},
		{"context file", func(t *testing.T, root string, b *Build) { write(t, root, "app/main.go", "package main // v2\n") }, true},
		{"ignored file", func(t *testing.T, root string, b *Build) { write(t, root, "app/debug.log", "x") }, false},
		// The inline Dockerfile is not a file: app/Dockerfile is only a
		// context file.
		{"a file named like the locator", func(t *testing.T, root string, b *Build) {
			write(t, root, "compose.yaml#services.app.build.dockerfile_inline.dockerignore", "*\n")
		}, false},
	})
}

// TestFingerprintCreationOrder builds the same repository in two places,
// writing its files in opposite orders: the fingerprint depends on neither.
func TestFingerprintCreationOrder(t *testing.T) {
	names := slices.Sorted(maps.Keys(fpFiles))
	reversed := slices.Clone(names)
	slices.Reverse(reversed)
	var prints []digest.Digest
	for _, order := range [][]string{names, reversed} {
		root := filepath.Join(t.TempDir(), "somewhere", "else", "shop")
		writeRepo(t, root, order, fpFiles)
		chmod(t, root, "app/run.sh", 0o755)
		prints = append(prints, fingerprint(t, root, fpBuild()))
	}
	if prints[0] != prints[1] {
		t.Errorf("%s != %s", prints[0], prints[1])
	}
}

func TestFingerprintDockerfileIgnoreWins(t *testing.T) {
	files := map[string]string{
		"app/Dockerfile":              "FROM alpine\nCOPY . /app\n",
		"app/Dockerfile.dockerignore": "secret.txt\n",
		"app/.dockerignore":           "*\n", // would leave out everything
		"app/main.go":                 "package main\n",
		"app/secret.txt":              "hunter2\n",
	}
	checkChanges(t, files, fpBuild, []fpChange{
		{"file the Dockerfile's ignore file lets through", func(t *testing.T, root string, b *Build) { write(t, root, "app/main.go", "v2") }, true},
		{"file the Dockerfile's ignore file ignores", func(t *testing.T, root string, b *Build) { write(t, root, "app/secret.txt", "v2") }, false},
		{"context .dockerignore only applies without it", func(t *testing.T, root string, b *Build) {
			remove(t, root, "app/Dockerfile.dockerignore")
			b2 := fpBuild()
			d1 := fingerprint(t, root, b2)
			write(t, root, "app/main.go", "v3")
			if d2 := fingerprint(t, root, b2); d1 != d2 {
				t.Errorf("with the context's \"*\" only, main.go still counts: %s -> %s", d1, d2)
			}
		}, true},
	})

	// A Dockerfile outside its context: its ignore file is the one next
	// to it, not in the context.
	outside := map[string]string{
		"docker/app.Dockerfile":              "FROM alpine\nCOPY . /app\n",
		"docker/app.Dockerfile.dockerignore": "secret.txt\n",
		"app/.dockerignore":                  "*\n",
		"app/main.go":                        "package main\n",
		"app/secret.txt":                     "hunter2\n",
	}
	build := func() *Build {
		b := fpBuild()
		b.Dockerfile = "docker/app.Dockerfile"
		return b
	}
	checkChanges(t, outside, build, []fpChange{
		{"outside Dockerfile: file let through", func(t *testing.T, root string, b *Build) { write(t, root, "app/main.go", "v2") }, true},
		{"outside Dockerfile: file ignored", func(t *testing.T, root string, b *Build) { write(t, root, "app/secret.txt", "v2") }, false},
		{"outside Dockerfile: its ignore file", func(t *testing.T, root string, b *Build) {
			write(t, root, "docker/app.Dockerfile.dockerignore", "secret.txt\nmain.go\n")
		}, true},
	})
}

// TestFingerprintDockerignoreExceptions checks "!" patterns the way docker
// and BuildKit apply them: a later "!" pattern brings a file back, also
// from inside an ignored directory, and nothing else comes back with it.
func TestFingerprintDockerignoreExceptions(t *testing.T) {
	star := map[string]string{
		"app/Dockerfile":    "FROM alpine\nCOPY keep.txt /\n",
		"app/.dockerignore": "*\n!keep.txt\n",
		"app/keep.txt":      "keep\n",
		"app/other.txt":     "other\n",
		"app/sub/keep.txt":  "not top-level\n",
	}
	checkChanges(t, star, fpBuild, []fpChange{
		{"re-included file changes", func(t *testing.T, root string, b *Build) { write(t, root, "app/keep.txt", "v2") }, true},
		{"re-included file removed", func(t *testing.T, root string, b *Build) { remove(t, root, "app/keep.txt") }, true},
		{"ignored file changes", func(t *testing.T, root string, b *Build) { write(t, root, "app/other.txt", "v2") }, false},
		{"file appears", func(t *testing.T, root string, b *Build) { write(t, root, "app/new.txt", "v2") }, false},
		{"same name in an ignored directory", func(t *testing.T, root string, b *Build) { write(t, root, "app/sub/keep.txt", "v2") }, false},
		{"Dockerfile still counts", func(t *testing.T, root string, b *Build) {
			write(t, root, "app/Dockerfile", "FROM alpine:3.20\nCOPY keep.txt /\n")
		}, true},
	})

	dir := map[string]string{
		"app/Dockerfile":      "FROM alpine\nCOPY . /app\n",
		"app/.dockerignore":   "dir/\n!dir/keep\n",
		"app/main.go":         "package main\n",
		"app/dir/keep":        "keep\n",
		"app/dir/other":       "other\n",
		"app/dir/sub/deeper":  "deeper\n",
		"app/dirty/not-dir":   "prefix only\n",
		"app/other/dir/alike": "not the top-level dir\n",
	}
	checkChanges(t, dir, fpBuild, []fpChange{
		{"dir/keep changes", func(t *testing.T, root string, b *Build) { write(t, root, "app/dir/keep", "v2") }, true},
		{"dir/keep removed", func(t *testing.T, root string, b *Build) { remove(t, root, "app/dir/keep") }, true},
		{"dir/keep executable", func(t *testing.T, root string, b *Build) { chmod(t, root, "app/dir/keep", 0o755) }, true},
		{"dir/other changes", func(t *testing.T, root string, b *Build) { write(t, root, "app/dir/other", "v2") }, false},
		{"file appears in dir", func(t *testing.T, root string, b *Build) { write(t, root, "app/dir/new", "v2") }, false},
		{"deeper file in dir", func(t *testing.T, root string, b *Build) { write(t, root, "app/dir/sub/deeper", "v2") }, false},
		{"dirty/ is not dir/", func(t *testing.T, root string, b *Build) { write(t, root, "app/dirty/not-dir", "v2") }, true},
		{"other/dir/ is not dir/", func(t *testing.T, root string, b *Build) { write(t, root, "app/other/dir/alike", "v2") }, true},
		{"context file", func(t *testing.T, root string, b *Build) { write(t, root, "app/main.go", "v2") }, true},
	})
}

func TestFingerprintErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		build   func(b *Build)
		wantErr string
	}{{
		name:    "context outside the root",
		files:   map[string]string{"app/Dockerfile": "FROM alpine\n", "../outside/x": "x"},
		build:   func(b *Build) { b.Context = "../outside" },
		wantErr: "../outside leaves the repository",
	}, {
		name:    "context that is a symlink out of the root",
		files:   map[string]string{"app/Dockerfile": "FROM alpine\n", "ctx": symlinkPrefix + "../outside", "../outside/x": "x"},
		build:   func(b *Build) { b.Context = "ctx" },
		wantErr: `ctx is a symbolic link to "../outside", outside the repository`,
	}, {
		name:    "Dockerfile that is a symlink out of the root",
		files:   map[string]string{"app/Dockerfile": symlinkPrefix + "../../outside/Dockerfile", "../outside/Dockerfile": "FROM alpine\n"},
		wantErr: `app/Dockerfile is a symbolic link to "../../outside/Dockerfile", outside the repository`,
	}, {
		name: ".dockerignore that is a symlink out of the root",
		files: map[string]string{"app/Dockerfile": "FROM alpine\n", "app/.dockerignore": symlinkPrefix + "../../outside/secret",
			"../outside/secret": "CI_SECRET_TOKEN=s3cr3t"},
		wantErr: `app/.dockerignore is a symbolic link to "../../outside/secret", outside the repository`,
	}, {
		name:    "Dockerfile.dockerignore that is a symlink to /proc/self/environ",
		files:   map[string]string{"app/Dockerfile": "FROM alpine\n", "app/Dockerfile.dockerignore": symlinkPrefix + "/proc/self/environ"},
		wantErr: `app/Dockerfile.dockerignore is a symbolic link to "/proc/self/environ", outside the repository`,
	}, {
		name:    "additional context that is a symlink out of the root",
		files:   map[string]string{"app/Dockerfile": "FROM alpine\n", "shared": symlinkPrefix + "../outside", "../outside/x": "x"},
		build:   func(b *Build) { b.LocalContexts = map[string]string{"shared": "shared"} },
		wantErr: `additional context shared: shared is a symbolic link to "../outside"`,
	}, {
		name:    "missing context",
		files:   map[string]string{"app/Dockerfile": "FROM alpine\n"},
		build:   func(b *Build) { b.Context = "gone" },
		wantErr: "gone",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newFPRepo(t, tt.files)
			b := fpBuild()
			if tt.build != nil {
				tt.build(b)
			}
			d, err := Sum(root, *b)
			if err == nil {
				t.Fatalf("no error, got %s", d)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestFingerprintSymlinkedContext: a context directory reached through a
// symbolic link inside the repository is the directory it points to, as
// for docker.
func TestFingerprintSymlinkedContext(t *testing.T) {
	files := maps.Clone(fpFiles)
	files["ctx"] = symlinkPrefix + "app"
	build := func() *Build {
		b := fpBuild()
		b.Context = "ctx"
		return b
	}
	checkChanges(t, files, build, []fpChange{
		{"file behind the link", func(t *testing.T, root string, b *Build) { write(t, root, "app/main.go", "v2") }, true},
		{"ignored file behind the link", func(t *testing.T, root string, b *Build) { write(t, root, "app/debug.log", "v2") }, false},
	})
	root := newFPRepo(t, files)
	if direct, linked := fingerprint(t, root, fpBuild()), fingerprint(t, root, build()); direct != linked {
		t.Errorf("context through a link %s != direct %s", linked, direct)
	}
}

func TestFingerprintLocalContexts(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{"web/Dockerfile": "FROM alpine\nCOPY --from=shared /x /x\n", "web/a": "a", "shared/x": "one"}
	writeRepo(t, root, slices.Sorted(maps.Keys(files)), files)
	b := Build{Context: "web", Dockerfile: "web/Dockerfile",
		LocalContexts: map[string]string{"shared": "shared"}}
	before, err := Sum(root, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "shared/x"), []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	after, err := Sum(root, b)
	if err != nil || after == before {
		t.Errorf("a change in an additional context did not change the inputs (%v)", err)
	}
	b.LocalContexts["shared"] = "../outside"
	if _, err := Sum(root, b); err == nil {
		t.Error("an additional context outside the repository was hashed")
	}
}

// TestFingerprintHostileContext: a link out of the repository in a build
// context is an error naming it and its target (a COPY that follows it
// would read what lies outside), unless .dockerignore leaves it out; a
// FIFO is recorded, never opened (opening it would wait for a writer);
// nothing outside is read either way.
func TestFingerprintHostileContext(t *testing.T) {
	for link, target := range map[string]string{"app/environ": "/proc/self/environ", "app/lib/secret": "../../../outside/secret"} {
		files := maps.Clone(fpFiles)
		files[link] = symlinkPrefix + target
		files["../outside/secret"] = "CI_SECRET_TOKEN=s3cr3t-one"
		root := newFPRepo(t, files)
		_, err := Sum(root, *fpBuild())
		want := fmt.Sprintf("%s is a symbolic link to %q, outside the repository", link, target)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ".dockerignore") {
			t.Errorf("a context holding %s -> %s: %v, want an error with %q", link, target, err, want)
		}
	}
	files := maps.Clone(fpFiles)
	files["app/secret"] = symlinkPrefix + "../../outside/secret"
	files["app/.dockerignore"] += "secret\n"
	files["../outside/secret"] = "CI_SECRET_TOKEN=s3cr3t-one"
	root := newFPRepo(t, files)
	if err := syscall.Mkfifo(filepath.Join(root, "app/pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := fingerprint(t, root, fpBuild())
	write(t, root, "../outside/secret", "CI_SECRET_TOKEN=s3cr3t-two")
	if after := fingerprint(t, root, fpBuild()); after != before {
		t.Errorf("a file outside the repository changed the fingerprint: it was read (%s, then %s)", before, after)
	}
}

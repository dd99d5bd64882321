package repofs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileTree makes parent/repo (the root) and parent/outside, with links
// of every kind in the repository, and returns the root opened.
func hostileTree(t testing.TB) (*Root, string) {
	t.Helper()
	parent := t.TempDir()
	for _, dir := range []string{"repo/src/app", "repo/deep/er", "outside/dir"} {
		if err := os.MkdirAll(filepath.Join(parent, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{
		"repo/src/app/Dockerfile": "FROM alpine\n",
		"outside/secret":          "CI_SECRET_TOKEN=s3cr3t\n",
		"outside/dir/file":        "x\n",
	} {
		if err := os.WriteFile(filepath.Join(parent, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"repo/in":             "src/app",                               // a directory link that stays inside
		"repo/in-file":        "src/app/Dockerfile",                    // a file link that stays inside
		"repo/abs-in":         filepath.Join(parent, "repo/src/app"),   // absolute, inside
		"repo/chain1":         "chain2",                                // chained: chain1 -> chain2 -> in
		"repo/chain2":         "in",                                    //
		"repo/out":            "../outside",                            // a directory out
		"repo/out-file":       "../outside/secret",                     // a file out
		"repo/abs-out":        filepath.Join(parent, "outside/secret"), // absolute, out
		"repo/environ":        "/proc/self/environ",                    // the process environment
		"repo/zero":           "/dev/zero",                             // endless
		"repo/chain-out":      "out-file",                              // chained, out at the end
		"repo/deep/er/up":     "../../../outside",                      // relative, climbing out
		"repo/deep/er/within": "../../src",                             // relative, climbing but inside
		"repo/loop1":          "loop2",                                 //
		"repo/loop2":          "loop1",                                 // a loop
		"repo/dangling":       "nowhere",                               //
		"repo/back-in":        "../repo/src",                           // leaves and comes back: refused
	} {
		if err := os.Symlink(target, filepath.Join(parent, link)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Open(filepath.Join(parent, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, parent
}

func TestResolve(t *testing.T) {
	r, parent := hostileTree(t)
	real := func(rel string) string { return filepath.Join(r.real, filepath.FromSlash(rel)) }
	tests := []struct {
		name    string
		want    string // the real path relative to the root, when no error
		wantErr string // prefix of the error
		is      error
	}{
		{name: "src/app", want: "src/app"},
		{name: ".", want: "."},
		{name: "", want: "."},
		{name: "in", want: "src/app"},
		{name: "in/Dockerfile", want: "src/app/Dockerfile"},
		{name: "in-file", want: "src/app/Dockerfile"},
		{name: "abs-in/Dockerfile", want: "src/app/Dockerfile"},
		{name: "chain1/Dockerfile", want: "src/app/Dockerfile"},
		{name: "src/app/../app", want: "src/app"},
		{name: "in/..", want: "."}, // cleaned first, as filepath.Join and the tools that take the name do
		{name: "deep/er/within/app", want: "src/app"},
		{name: filepath.Join(parent, "repo/src/app"), want: "src/app"},
		{name: "../outside", wantErr: `../outside leaves the repository through ".."`, is: ErrOutside},
		{name: "src/../../outside/secret", wantErr: `../outside/secret leaves the repository`, is: ErrOutside},
		{name: "out", wantErr: `out is a symbolic link to "../outside", outside the repository`, is: ErrOutside},
		{name: "out/secret", wantErr: `out/secret: symbolic link out points to "../outside", outside the repository`, is: ErrOutside},
		{name: "out-file", wantErr: `out-file is a symbolic link to "../outside/secret"`, is: ErrOutside},
		{name: "abs-out", wantErr: `abs-out is a symbolic link to "` + filepath.Join(parent, "outside/secret") + `"`, is: ErrOutside},
		{name: "environ", wantErr: `environ is a symbolic link to "/proc/self/environ", outside the repository`, is: ErrOutside},
		{name: "zero", wantErr: `zero is a symbolic link to "/dev/zero"`, is: ErrOutside},
		{name: "chain-out", wantErr: `chain-out: symbolic link out-file points to "../outside/secret"`, is: ErrOutside},
		{name: "deep/er/up/secret", wantErr: `deep/er/up/secret: symbolic link deep/er/up points to "../../../outside"`, is: ErrOutside},
		{name: "back-in/app", wantErr: `back-in/app: symbolic link back-in points to "../repo/src"`, is: ErrOutside},
		{name: "/proc/self/environ", wantErr: `/proc/self/environ is outside the repository`, is: ErrOutside},
		{name: filepath.Join(parent, "outside/secret"), wantErr: filepath.Join(parent, "outside/secret") + " is outside", is: ErrOutside},
		{name: "loop1", wantErr: "open loop1: too many levels of symbolic links"},
		{name: "dangling", wantErr: "open dangling: no such file or directory", is: fs.ErrNotExist},
		{name: "gone", wantErr: "open gone: no such file or directory", is: fs.ErrNotExist},
		{name: "in-file/x", wantErr: "open in-file/x: not a directory"},
	}
	for _, tt := range tests {
		got, err := r.Resolve(tt.name)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("Resolve(%q): %v", tt.name, err)
		case tt.wantErr == "" && got != real(tt.want):
			t.Errorf("Resolve(%q) = %s, want %s", tt.name, got, real(tt.want))
		case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
			t.Errorf("Resolve(%q) = %q, %v; want an error starting %q", tt.name, got, err, tt.wantErr)
		case tt.is != nil && !errors.Is(err, tt.is):
			t.Errorf("Resolve(%q): %v is not %v", tt.name, err, tt.is)
		}
	}
}

// TestRootThroughLink: the root may itself be named through a link (a
// checkout under /tmp on macOS is under /private/tmp): that is the
// caller's choice, and absolute names under either spelling are inside.
func TestRootThroughLink(t *testing.T) {
	_, parent := hostileTree(t)
	alias := filepath.Join(parent, "alias")
	if err := os.Symlink("repo", alias); err != nil {
		t.Fatal(err)
	}
	r, err := Open(alias)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, name := range []string{"src/app/Dockerfile", filepath.Join(alias, "src/app/Dockerfile"), filepath.Join(parent, "repo/src/app/Dockerfile")} {
		if _, err := r.ReadFile(name); err != nil {
			t.Errorf("ReadFile(%q): %v", name, err)
		}
	}
	if _, err := r.ReadFile("out-file"); !errors.Is(err, ErrOutside) {
		t.Errorf("out-file through the alias: %v", err)
	}
}

// FuzzResolve drives the resolver with any name and any link target: a
// name it accepts is what the kernel opens for root/name, and it lies
// inside the root; a name the kernel resolves outside is always refused.
func FuzzResolve(f *testing.F) {
	for _, seed := range [][2]string{
		{"fuzz/Dockerfile", "src/app"}, {"fuzz", "../outside/secret"}, {"fuzz/../in", "deep/er"},
		{"fuzz/up/secret", "deep/er"}, {"fuzz", "/proc/self/environ"}, {"in/../fuzz/..", "chain1/.."},
		{"fuzz/file", "back-in/../../outside/dir"}, {"./fuzz//app/", "src"},
	} {
		f.Add(seed[0], seed[1])
	}
	r, parent := hostileTree(f) // once per process; only the link "fuzz" changes
	f.Fuzz(func(t *testing.T, name, target string) {
		if strings.ContainsRune(name+target, 0) || len(name) > 512 || len(target) > 512 {
			return
		}
		fuzz := filepath.Join(parent, "repo", "fuzz")
		if err := os.Remove(fuzz); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if err := os.Symlink(target, fuzz); err != nil {
			return
		}
		got, err := r.Resolve(name)
		kernel, kerr := filepath.EvalSymlinks(filepath.Join(parent, "repo", name))
		if filepath.IsAbs(name) {
			kernel, kerr = filepath.EvalSymlinks(filepath.Clean(name))
		}
		if err != nil {
			return // refusing is always safe; what matters is what is accepted
		}
		if _, ok := within(r.real, got); !ok {
			t.Fatalf("Resolve(%q) with fuzz -> %q = %s, outside %s", name, target, got, r.real)
		}
		if kerr != nil || kernel != got {
			t.Fatalf("Resolve(%q) with fuzz -> %q = %s; the kernel resolves %s (%v)", name, target, got, kernel, kerr)
		}
		if leaf, err := filepath.EvalSymlinks(got); err != nil || leaf != got {
			t.Fatalf("Resolve(%q) = %s still holds a link (%s, %v)", name, got, leaf, err)
		}
	})
}

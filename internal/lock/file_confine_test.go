//go:build linux

package lock

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
)

// TestLoadRefusesHostileLockfile: images.lock committed as a link out of
// its directory (to a file whose lines errors would print, to /dev/zero,
// which would fill memory) or as a FIFO (which would block) is refused
// before a byte of it is read.
func TestLoadRefusesHostileLockfile(t *testing.T) {
	for target, want := range map[string]string{
		"../outside.hcl":     `images.lock is a symbolic link to "../outside.hcl", outside the repository`,
		"/dev/zero":          `images.lock is a symbolic link to "/dev/zero", outside the repository`,
		"/proc/self/environ": `images.lock is a symbolic link to "/proc/self/environ"`,
		"fifo":               "images.lock is a FIFO, not a regular file",
	} {
		parent := t.TempDir()
		dir := filepath.Join(parent, "repo")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(parent, "outside.hcl"), []byte("CI_SECRET_TOKEN = \"s3cr3t\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, "images.lock")); err != nil {
			t.Fatal(err)
		}
		f, diags := Load(hclparse.NewParser(), filepath.Join(dir, "images.lock"))
		if f != nil || !diags.HasErrors() || !strings.Contains(diags.Error(), want) || strings.Contains(diags.Error(), "s3cr3t") {
			t.Errorf("a lockfile linked to %s: %v, %v; want an error with %q", target, f, diags, want)
		}
	}
	big := filepath.Join(t.TempDir(), "images.lock")
	if err := os.WriteFile(big, make([]byte, 16<<20+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, diags := Load(hclparse.NewParser(), big); !strings.Contains(diags.Error(), "images.lock is larger than 16 MiB") {
		t.Errorf("a lockfile over the cap: %v", diags)
	}
}

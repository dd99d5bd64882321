//go:build linux

package repofs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadFile(t *testing.T) {
	r, parent := hostileTree(t)
	repo := filepath.Join(parent, "repo")
	if err := syscall.Mkfifo(filepath.Join(repo, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("fifo", filepath.Join(repo, "to-fifo")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "big"), make([]byte, 1025), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		max     int64
		want    string
		wantErr string
		is      error
	}{
		{name: "in/Dockerfile", max: 1 << 10, want: "FROM alpine\n"},
		{name: "src/app/Dockerfile", max: 12, want: "FROM alpine\n"},
		{name: "src/app/Dockerfile", max: 11, wantErr: "src/app/Dockerfile is larger than 11 bytes", is: ErrTooLarge},
		{name: "big", max: 1 << 10, wantErr: "big is larger than 1 KiB", is: ErrTooLarge},
		// Opening a FIFO would wait for a writer: refused before.
		{name: "fifo", max: 1 << 10, wantErr: "fifo is a FIFO, not a regular file", is: ErrNotRegular},
		{name: "to-fifo", max: 1 << 10, wantErr: "to-fifo is a FIFO", is: ErrNotRegular},
		{name: "src", max: 1 << 10, wantErr: "src is a directory", is: ErrNotRegular},
		{name: "zero", max: 1 << 10, wantErr: `zero is a symbolic link to "/dev/zero"`, is: ErrOutside},
		{name: "environ", max: 1 << 10, wantErr: `environ is a symbolic link to "/proc/self/environ"`, is: ErrOutside},
		{name: "out-file", max: 1 << 10, wantErr: `out-file is a symbolic link to "../outside/secret"`, is: ErrOutside},
	}
	for _, tt := range tests {
		got, err := r.ReadFileLimit(tt.name, tt.max)
		switch {
		case tt.wantErr == "" && (err != nil || string(got) != tt.want):
			t.Errorf("ReadFileLimit(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
			t.Errorf("ReadFileLimit(%q) = %q, %v; want an error starting %q", tt.name, got, err, tt.wantErr)
		case tt.is != nil && !errors.Is(err, tt.is):
			t.Errorf("ReadFileLimit(%q): %v is not %v", tt.name, err, tt.is)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("ReadFileLimit(%q): the error shows what is outside: %v", tt.name, err)
		}
	}
}

// TestSpecialFilesAtTheRoot: a repository that is itself beneath /proc
// or /dev holds no regular file to read, whatever stat says.
func TestSpecialFilesAtTheRoot(t *testing.T) {
	for dir, name := range map[string]string{"/proc/self": "environ", "/dev": "zero"} {
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.ReadFile(name)
		r.Close()
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadFile(%s/%s): %v, want a refusal of a special file", dir, name, err)
		}
	}
}

func TestOpen(t *testing.T) {
	r, _ := hostileTree(t)
	f, err := r.Open("chain1/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil || string(data) != "FROM alpine\n" {
		t.Errorf("read %q, %v", data, err)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Write: %v, want a refusal", err)
	}
	if _, err := r.Open("out/secret"); !errors.Is(err, ErrOutside) {
		t.Errorf("Open(out/secret): %v", err)
	}
}

func TestReadDirAndSub(t *testing.T) {
	r, _ := hostileTree(t)
	entries, err := r.ReadDir("chain1")
	if err != nil || len(entries) != 1 || entries[0].Name() != "Dockerfile" {
		t.Errorf("ReadDir(chain1) = %v, %v", entries, err)
	}
	if _, err := r.ReadDir("out"); !errors.Is(err, ErrOutside) {
		t.Errorf("ReadDir(out): %v", err)
	}
	sub, rel, err := r.Sub("in")
	if err != nil || rel != "src/app" {
		t.Fatalf("Sub(in) = %q, %v", rel, err)
	}
	if _, err := fs.Stat(sub, "Dockerfile"); err != nil {
		t.Errorf("Stat in Sub(in): %v", err)
	}
	if target, err := fs.ReadLink(mustSub(t, r, "."), "out"); err != nil || target != "../outside" {
		t.Errorf("ReadLink(out) = %q, %v", target, err)
	}
	// The FS of Sub cannot be used to step out either.
	if _, err := fs.ReadFile(mustSub(t, r, "."), "out/secret"); err == nil {
		t.Error("the file system of Sub followed a link out")
	}
	for name, want := range map[string]bool{"in": true, "gone": false, "dangling": false} {
		if got, err := r.Exists(name); got != want || err != nil {
			t.Errorf("Exists(%q) = %v, %v", name, got, err)
		}
	}
	if _, err := r.Exists("out"); !errors.Is(err, ErrOutside) {
		t.Errorf("Exists(out): %v, want an error", err)
	}
}

func mustSub(t *testing.T, r *Root, name string) fs.FS {
	t.Helper()
	sub, _, err := r.Sub(name)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.json")
	for _, content := range []string{"one\n", "two\n"} {
		if err := Write(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != content {
			t.Fatalf("after Write(%q): %q, %v", content, got, err)
		}
	}
	assertMode(t, path)
	assertOnly(t, dir, "plan.json")
	// A directory that does not exist: an error naming the file, nothing left behind.
	if err := Write(filepath.Join(dir, "missing", "x"), []byte("x")); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}

func TestWriteNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "images.hcl")
	if err := WriteNew(path, []byte("first\n")); err != nil {
		t.Fatal(err)
	}
	err := WriteNew(path, []byte("second\n"))
	if !errors.Is(err, ErrExist) {
		t.Fatalf("second WriteNew: %v, want ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "first\n" {
		t.Errorf("WriteNew replaced an existing file: %q", got)
	}
	assertMode(t, path)
	assertOnly(t, dir, "images.hcl")

	// A dangling symbolic link is a taken name too: following it would
	// write somewhere the user did not ask for.
	link := filepath.Join(dir, "link.hcl")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), link); err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(link, []byte("x")); !errors.Is(err, ErrExist) {
		t.Errorf("WriteNew over a dangling link: %v, want ErrExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); !os.IsNotExist(err) {
		t.Error("WriteNew wrote through a dangling link")
	}
}

func assertMode(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("%s has mode %v, want 0644", path, fi.Mode().Perm())
	}
}

// assertOnly fails unless dir holds exactly the named files: no temporary
// file is left behind.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
	for i := range names {
		if got[i] != names[i] {
			t.Fatalf("%s holds %v, want %v", dir, got, names)
		}
	}
}

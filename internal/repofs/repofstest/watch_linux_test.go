package repofstest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestWatch: an open through a link elsewhere is seen, and so is the
// listing of a directory; a stat is not an open.
func TestWatch(t *testing.T) {
	parent := t.TempDir()
	outside := filepath.Join(parent, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "sub", "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(parent, "link")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	w := Watch(t, outside)
	if _, err := os.Stat(link); err != nil {
		t.Fatal(err)
	}
	if got := w.Opened(); len(got) != 0 {
		t.Errorf("a stat counted as an open: %v", got)
	}
	if _, err := os.ReadFile(link); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadDir(outside); err != nil {
		t.Fatal(err)
	}
	got := w.Opened()
	if !slices.Contains(got, secret) || !slices.Contains(got, outside) {
		t.Errorf("opened %v, want %s and %s", got, secret, outside)
	}
}

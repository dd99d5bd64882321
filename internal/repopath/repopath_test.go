package repopath

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "repo")
	for _, dir := range []string{"repo/src/app", "outside"} {
		if err := os.MkdirAll(filepath.Join(parent, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"repo/in": "src/app", "repo/out": "../outside", "repo/src/up": "../../outside"} {
		if err := os.Symlink(target, filepath.Join(parent, link)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		rel     string
		wantErr string // "" for none
	}{
		{rel: "src/app"},
		{rel: "."},
		{rel: "in"}, // a link that stays inside
		{rel: "src/app/../app"},
		{rel: "../outside", wantErr: "../outside leaves the repository"},
		{rel: "out", wantErr: "out leaves the repository (it resolves to " + filepath.Join(parent, "outside") + ")"},
		{rel: "src/up", wantErr: "src/up leaves the repository"},
		{rel: "gone", wantErr: "gone: file does not exist"},
	}
	for _, tt := range tests {
		abs, err := Resolve(root, tt.rel)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("Resolve(%q): %v", tt.rel, err)
		case tt.wantErr == "" && abs != filepath.Join(root, filepath.FromSlash(tt.rel)):
			t.Errorf("Resolve(%q) = %s", tt.rel, abs)
		case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
			t.Errorf("Resolve(%q) = %q, %v; want an error starting %q", tt.rel, abs, err, tt.wantErr)
		}
	}
	if _, err := Resolve(root, "gone"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing path: %v, want fs.ErrNotExist", err)
	}
}

package discover

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzLoadCompose writes the input as the compose file of an empty
// directory and checks that LoadCompose never panics and that what it
// returns keeps its promises: services sorted, paths relative to the root
// and inside it.
func FuzzLoadCompose(f *testing.F) {
	err := filepath.WalkDir(filepath.Join("testdata", "compose"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")) {
			return err
		}
		b, err := os.ReadFile(path)
		f.Add(b)
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "compose.yaml"), content, 0o644); err != nil {
			t.Fatal(err)
		}
		type result struct {
			p   *ComposeProject
			err error
		}
		done := make(chan result, 1)
		go func() {
			p, err := LoadCompose(context.Background(), ComposeOptions{
				Root: root,
				Env:  map[string]string{"TAG": "1", "FROM_ENV": "x"},
			})
			done <- result{p, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("LoadCompose takes more than 10s on %q", content)
		}
		p, err := r.p, r.err
		if err != nil || p == nil {
			return
		}
		if !slices.IsSortedFunc(p.Services, func(a, b ComposeService) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("services not sorted: %v", p.Services)
		}
		for _, s := range p.Services {
			if strings.Contains(s.Image, "imagesync-unset-") {
				t.Errorf("service %s: token leaked into image %q", s.Name, s.Image)
			}
			if s.Build == nil {
				continue
			}
			for _, path := range []string{s.Build.Context, s.Build.Dockerfile} {
				if path != "" && (filepath.IsAbs(path) || path == ".." || strings.HasPrefix(path, "../")) {
					t.Errorf("service %s: path %q not inside the root", s.Name, path)
				}
			}
		}
	})
}

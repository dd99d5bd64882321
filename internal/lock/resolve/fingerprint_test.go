package resolve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/imageref"
)

// TestFingerprintOf: a build's fingerprint follows its own files and
// settings, not the services, sources and bases discovery lists for it,
// and an error names the build.
func TestFingerprintOf(t *testing.T) {
	root := t.TempDir()
	for rel, content := range map[string]string{"app/Dockerfile": "FROM alpine\n", "app/main.go": "package main\n"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := func() *discover.Build {
		return &discover.Build{Ref: imageref.MustParse("registry.example.com/app:1"), Services: []string{"app"},
			Context: "app", Dockerfile: "app/Dockerfile", Args: map[string]string{"A": "1"}, Platforms: []string{"linux/amd64"}}
	}
	base, err := fingerprintOf(root, build())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		change  func(b *discover.Build)
		changed bool
	}{
		{"services, sources and bases", func(b *discover.Build) {
			b.Services = []string{"other", "third"}
			b.Sources = []string{"compose.yaml#services.other.build"}
			b.Bases = []imageref.Ref{imageref.MustParse("alpine")}
			b.Scan = nil
		}, false},
		{"the reference", func(b *discover.Build) { b.Ref = imageref.MustParse("registry.example.com/app:2") }, false},
		{"an argument", func(b *discover.Build) { b.Args["A"] = "2" }, true},
		{"the target stage", func(b *discover.Build) { b.TargetStage = "runtime" }, true},
		{"the platforms", func(b *discover.Build) { b.Platforms = []string{"linux/arm64"} }, true},
		{"an inline Dockerfile", func(b *discover.Build) { b.Inline = []byte("FROM alpine:3.20\n") }, true},
		{"a local context", func(b *discover.Build) { b.LocalContexts = map[string]string{"src": "app"} }, true},
	}
	for _, tt := range tests {
		b := build()
		tt.change(b)
		got, err := fingerprintOf(root, b)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if changed := got != base; changed != tt.changed {
			t.Errorf("%s: fingerprint changed = %v, want %v", tt.name, changed, tt.changed)
		}
	}
	b := build()
	b.Context = "../outside"
	_, err = fingerprintOf(root, b)
	if want := "fingerprint registry.example.com/app:1: context: ../outside"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want one starting %q", err, want)
	}
}

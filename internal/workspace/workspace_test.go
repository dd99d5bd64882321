package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
)

// repo writes a small repository (images.hcl, a compose file) into a
// temporary directory and returns it.
func repo(t *testing.T, hcl string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"images.hcl":   hcl,
		"compose.yaml": "services:\n  cache:\n    image: redis:7\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const validHCL = `target { registry = "reg.example.com/team" }` + "\n"

func TestOpen(t *testing.T) {
	dir := repo(t, validHCL+`nonsense = 1`+"\n")
	_, err := Open(Options{ConfigFile: filepath.Join(dir, "images.hcl")})
	var diags *DiagnosticsError
	if !errors.As(err, &diags) || !strings.Contains(diags.Error(), "nonsense") || diags.Files[filepath.Join(dir, "images.hcl")] == nil {
		t.Fatalf("Open of a bad images.hcl: %v", err)
	}
	dir = repo(t, validHCL)
	w, err := Open(Options{ConfigFile: filepath.Join(dir, "images.hcl")})
	if err != nil {
		t.Fatal(err)
	}
	if w.Warnings() != nil || w.Config().Dir != dir || w.lockPath != filepath.Join(dir, "images.lock") {
		t.Errorf("warnings %v, dir %q, lock %q", w.Warnings(), w.Config().Dir, w.lockPath)
	}
	t.Chdir(dir)
	if got := w.LockName(); got != "images.lock" {
		t.Errorf("LockName below the working directory = %q", got)
	}
	t.Chdir(t.TempDir())
	if got := w.LockName(); got != filepath.Join(dir, "images.lock") {
		t.Errorf("LockName elsewhere = %q", got)
	}
}

// TestCheckLock walks a lock through missing, stale and current, without
// any network: the one image's digest is written by hand.
func TestCheckLock(t *testing.T) {
	dir := repo(t, validHCL)
	w, err := Open(Options{ConfigFile: filepath.Join(dir, "images.hcl")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var stale *StaleLockError
	if _, err := w.CheckLock(ctx); !errors.As(err, &stale) || !stale.Missing {
		t.Fatalf("no lockfile: %v", err)
	}
	if _, err := w.LockedImages(); err == nil || !strings.Contains(err.Error(), `run "imagesync lock" first`) {
		t.Errorf("LockedImages without a lockfile: %v", err)
	}

	redis := imageref.MustParse("redis:7")
	l := &lock.Lock{Images: []lock.Image{{Ref: redis, Digest: digest.FromString("redis"), MediaType: "application/vnd.oci.image.index.v1+json",
		Target: imageref.MustParse("reg.example.com/team/redis:7"), Sources: []string{"compose.yaml#services.cache.image"}}}}
	if err := lock.WriteFile(w.lockPath, lock.Format(l)); err != nil {
		t.Fatal(err)
	}
	w, _ = Open(Options{ConfigFile: filepath.Join(dir, "images.hcl")})
	got, err := w.CheckLock(ctx)
	if err != nil || len(got.Images) != 1 || got.Images[0].Ref != redis {
		t.Fatalf("current lock: %v, %v", got, err)
	}

	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  cache:\n    image: redis:8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, _ = Open(Options{ConfigFile: filepath.Join(dir, "images.hcl")})
	if _, err := w.CheckLock(ctx); !errors.As(err, &stale) || stale.Missing || len(stale.Changes) != 2 {
		t.Fatalf("stale lock: %v", err)
	}
	if _, err := w.Plan(ctx, PlanOptions{}); !errors.As(err, &stale) {
		t.Errorf("Plan of a stale lock: %v", err)
	}

	if err := os.WriteFile(w.lockPath, []byte("image \"x\" {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, _ = Open(Options{ConfigFile: filepath.Join(dir, "images.hcl")})
	var diags *DiagnosticsError
	if _, err := w.CheckLock(ctx); !errors.As(err, &diags) || diags.Files[w.lockPath] == nil {
		t.Errorf("broken lockfile: %v", err)
	}
}

func TestDiscoverWarnings(t *testing.T) {
	dir := repo(t, validHCL+"discover {\n  kubernetes = [\"cr.yaml\"]\n}\n")
	cr := "apiVersion: example.com/v1\nkind: Dashboard\nmetadata: {name: main}\nspec: {image: \"Grafana default\"}\n"
	if err := os.WriteFile(filepath.Join(dir, "cr.yaml"), []byte(cr), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	w, err := Open(Options{ConfigFile: filepath.Join(dir, "images.hcl"), OnWarning: func(msg string) { got = append(got, msg) }})
	if err != nil {
		t.Fatal(err)
	}
	found, err := w.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "cr.yaml#Dashboard/main.spec.image: ") || len(found.Images) != 1 {
		t.Errorf("warnings = %q, images = %v", got, found.Images)
	}
}

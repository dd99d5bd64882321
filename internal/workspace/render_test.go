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

// TestRender renders a repository without builds, so without any network:
// the compose override written atomically where asked, env from the
// render block, and the refusal of a stale lock.
func TestRender(t *testing.T) {
	dir := repo(t, validHCL+`render {
  env = { CACHE_IMAGE = "redis:7" }
}
`)
	w, err := Open(Options{ConfigFile: filepath.Join(dir, "images.hcl")})
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromString("redis")
	l := &lock.Lock{Images: []lock.Image{{Ref: imageref.MustParse("redis:7"), Digest: d, MediaType: "application/vnd.oci.image.index.v1+json",
		Target: imageref.MustParse("reg.example.com/team/redis:7"), Sources: []string{"compose.yaml#services.cache.image"}}}}
	if err := lock.WriteFile(w.lockPath, lock.Format(l)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "compose.mirror.yaml")
	res, err := w.Render(ctx, RenderOptions{Kind: RenderCompose, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(out)
	if err != nil || string(written) != string(res.Data) || res.Out != out || res.Services != 1 {
		t.Fatalf("render compose: %+v, file %q, %v", res, written, err)
	}
	if !strings.Contains(string(written), "  cache:\n    image: reg.example.com/team/redis@"+d.String()+"\n") ||
		!strings.Contains(string(written), "docker compose -f "+filepath.Join(dir, "compose.yaml")+" -f "+out+" up") {
		t.Errorf("compose.mirror.yaml:\n%s", written)
	}

	res, err = w.Render(ctx, RenderOptions{Kind: RenderEnv})
	if err != nil || string(res.Data) != "CACHE_IMAGE=reg.example.com/team/redis@"+d.String()+"\n" || res.Out != "" {
		t.Errorf("render env: %q, %v", res.Data, err)
	}
	if _, err := w.Render(ctx, RenderOptions{Kind: "helm"}); err == nil {
		t.Error("an unknown kind renders")
	}

	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  cache:\n    image: redis:8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, _ = Open(Options{ConfigFile: filepath.Join(dir, "images.hcl")})
	var stale *StaleLockError
	if _, err := w.Render(ctx, RenderOptions{Kind: RenderJSON}); !errors.As(err, &stale) {
		t.Errorf("render of a stale lock: %v", err)
	}
}

// TestRenderComposeProjects: with several compose_project blocks, render
// compose writes the override of the one --project names.
func TestRenderComposeProjects(t *testing.T) {
	dir := repo(t, validHCL+`discover {
  compose_project "app" {
    files = ["compose.yaml"]
  }
  compose_project "ops" {
    files = ["ops/compose.yaml"]
  }
}
`)
	if err := os.MkdirAll(filepath.Join(dir, "ops"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ops", "compose.yaml"), []byte("services:\n  db:\n    image: postgres:16\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Open(Options{ConfigFile: filepath.Join(dir, "images.hcl")})
	if err != nil {
		t.Fatal(err)
	}
	const mt = "application/vnd.oci.image.index.v1+json"
	l := &lock.Lock{Images: []lock.Image{
		{Ref: imageref.MustParse("postgres:16"), Digest: digest.FromString("pg"), MediaType: mt,
			Target: imageref.MustParse("reg.example.com/team/postgres:16"), Sources: []string{"compose:ops:ops/compose.yaml#services.db.image"}},
		{Ref: imageref.MustParse("redis:7"), Digest: digest.FromString("redis"), MediaType: mt,
			Target: imageref.MustParse("reg.example.com/team/redis:7"), Sources: []string{"compose:app:compose.yaml#services.cache.image"}},
	}}
	if err := lock.WriteFile(w.lockPath, lock.Format(l)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := w.Render(ctx, RenderOptions{Kind: RenderCompose}); err == nil ||
		!strings.Contains(err.Error(), "declares 2 compose projects (app, ops): name one with --project") {
		t.Errorf("without --project: %v", err)
	}
	if _, err := w.Render(ctx, RenderOptions{Kind: RenderCompose, Project: "db"}); err == nil ||
		!strings.Contains(err.Error(), "declares no such compose project (app, ops)") {
		t.Errorf("--project db: %v", err)
	}
	res, err := w.Render(ctx, RenderOptions{Kind: RenderCompose, Project: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Data); !strings.Contains(got, "  db:\n    image: reg.example.com/team/postgres@"+digest.FromString("pg").String()) ||
		strings.Contains(got, "cache") || res.Services != 1 {
		t.Errorf("render compose --project ops:\n%s", got)
	}
}

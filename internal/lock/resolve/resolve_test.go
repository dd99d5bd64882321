package resolve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

func dg(s string) digest.Digest { return digest.FromString(s) }

// withoutHeader is a formatted lock without its header comment.
func withoutHeader(b []byte) string {
	s := string(b)
	for strings.HasPrefix(s, "#") {
		_, s, _ = strings.Cut(s, "\n")
	}
	return s
}

// fakeResolver serves digests from a map and counts what it is asked.
type fakeResolver struct {
	mu        sync.Mutex
	tags      map[string]string // canonical ref -> content name
	resolved  []string
	platforms int
}

func (f *fakeResolver) Resolve(_ context.Context, ref imageref.Ref) (registry.Head, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolved = append(f.resolved, ref.String())
	if ref.IsPinned() {
		return registry.Head{Digest: ref.Digest(), MediaType: "application/vnd.oci.image.manifest.v1+json"}, nil
	}
	content, ok := f.tags[ref.String()]
	if !ok {
		return registry.Head{}, fmt.Errorf("resolve %s: %w", ref, registry.ErrNotFound)
	}
	return registry.Head{Digest: dg(content), MediaType: "application/vnd.oci.image.index.v1+json"}, nil
}

func (f *fakeResolver) Platforms(context.Context, registry.Head) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.platforms++
	return []string{"linux/arm64", "linux/amd64"}, nil
}

// repo is a small repository: one build with a context, and its config.
func repo(t *testing.T, hcl string) (*config.Config, *discover.Build) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "web", "Dockerfile"), "FROM nginx:1.27\nCOPY index.html /\n")
	write(t, filepath.Join(dir, "web", "index.html"), "hello\n")
	cfg, diags := config.Parse(hclparse.NewParser(), "images.hcl", dir, []byte(`target { registry = "reg.example.com/aim" }`+"\n"+hcl))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	b := &discover.Build{Ref: imageref.MustParse("web:v1"), Services: []string{"web"}, Context: "web", Dockerfile: "web/Dockerfile",
		Bases: []imageref.Ref{imageref.MustParse("nginx:1.27")}, Sources: []string{"compose.yaml#services.web.build"}}
	return cfg, b
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func found(b *discover.Build, refs ...string) *discover.Result {
	r := &discover.Result{}
	for _, s := range refs {
		r.Images = append(r.Images, discover.Image{Ref: imageref.MustParse(s), Sources: []string{"compose.yaml#services." + s + ".image"}})
	}
	if b != nil {
		r.Builds = append(r.Builds, *b)
	}
	return r
}

func TestUpdateKeepsAddsDrops(t *testing.T) {
	cfg, b := repo(t, "")
	ctx := context.Background()
	res := &fakeResolver{tags: map[string]string{
		"docker.io/library/nginx:1.27": "nginx-1", "docker.io/library/redis:7": "redis-1", "docker.io/library/pg:15": "pg-1",
	}}
	first, changes, err := Update(ctx, cfg, found(b, "nginx:1.27", "redis:7"), nil, res, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Images) != 2 || len(first.Builds) != 1 || len(changes) != 3 || res.platforms != 2 {
		t.Fatalf("first lock: %d images, %d builds, changes %v, %d platform fetches", len(first.Images), len(first.Builds), changes, res.platforms)
	}
	if got := first.Image(imageref.MustParse("redis:7")); got.Digest != dg("redis-1") || got.Target.String() != "reg.example.com/aim/redis:7" ||
		strings.Join(got.Platforms, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("redis = %+v", got)
	}

	// Upstream moves every tag; without --upgrade nothing is re-resolved.
	res.tags = map[string]string{"docker.io/library/nginx:1.27": "nginx-2", "docker.io/library/redis:7": "redis-2", "docker.io/library/pg:15": "pg-1"}
	res.resolved, res.platforms = nil, 0
	second, changes, err := Update(ctx, cfg, found(b, "nginx:1.27", "pg:15"), first, res, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.resolved, ",") != "docker.io/library/pg:15" {
		t.Errorf("resolved %v, want only the new pg:15", res.resolved)
	}
	if second.Image(imageref.MustParse("nginx:1.27")).Digest != dg("nginx-1") {
		t.Error("locked digest not kept")
	}
	var lines []string
	for _, c := range changes {
		lines = append(lines, c.String())
	}
	want := "+ image docker.io/library/pg:15 " + imageref.ShortDigest(dg("pg-1")) + ",- image docker.io/library/redis:7"
	if strings.Join(lines, ",") != want {
		t.Errorf("changes = %q, want %q", lines, want)
	}
	if second.Builds[0].Inputs != first.Builds[0].Inputs {
		t.Error("build inputs changed though nothing it uses did")
	}

	// --upgrade nginx:1.27 re-resolves only it; the build's inputs follow its base.
	third, changes, err := Update(ctx, cfg, found(b, "nginx:1.27", "pg:15"), second, res,
		Options{Upgrade: true, UpgradeOnly: []imageref.Ref{imageref.MustParse("nginx:1.27")}})
	if err != nil {
		t.Fatal(err)
	}
	if third.Image(imageref.MustParse("nginx:1.27")).Digest != dg("nginx-2") {
		t.Error("upgrade did not re-resolve")
	}
	if third.Builds[0].Inputs == second.Builds[0].Inputs {
		t.Error("build inputs did not change with its base's digest")
	}
	if len(changes) != 2 || changes[0].Kind != lock.Upgraded || changes[1].Kind != lock.Upgraded || !changes[1].Build {
		t.Errorf("changes = %v", changes)
	}
}

func TestUpdateUnresolvable(t *testing.T) {
	cfg, _ := repo(t, "")
	res := &fakeResolver{tags: map[string]string{"docker.io/library/redis:7": "r"}}
	l, _, err := Update(context.Background(), cfg, found(nil, "redis:7", "nope:1", "gone:2"), nil, res, Options{})
	var rerr *resolveError
	if !errors.As(err, &rerr) || l != nil {
		t.Fatalf("err = %v, lock = %v", err, l)
	}
	msg := err.Error()
	for _, want := range []string{"2 images could not be resolved:", "docker.io/library/nope:1 (from compose.yaml#services.nope:1.image)", "docker.io/library/gone:2", "not found"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestUpdatePinnedVerified(t *testing.T) {
	cfg, _ := repo(t, "")
	res := &fakeResolver{}
	pinned := "alpine@" + dg("alpine").String()
	l, _, err := Update(context.Background(), cfg, found(nil, pinned), nil, res, Options{})
	if err != nil {
		t.Fatal(err)
	}
	img := l.Images[0]
	if img.Digest != dg("alpine") || img.Target.String() != "reg.example.com/aim/alpine@"+dg("alpine").String() || len(res.resolved) != 1 {
		t.Errorf("pinned image = %+v, resolved %v", img, res.resolved)
	}
	// --upgrade never re-resolves a pinned reference.
	res.resolved = nil
	if _, _, err := Update(context.Background(), cfg, found(nil, pinned), l, res, Options{Upgrade: true}); err != nil || len(res.resolved) != 0 {
		t.Errorf("upgrade of pinned: err %v, resolved %v", err, res.resolved)
	}
}

func TestTargetCollision(t *testing.T) {
	cfg, _ := repo(t, "")
	cfg.Target.Layout = config.LayoutFlat
	_, _, err := Update(context.Background(), cfg, found(nil, "osixia/openldap:stable", "bitnami/openldap:stable"), nil, &fakeResolver{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "docker.io/bitnami/openldap:stable and docker.io/osixia/openldap:stable both map to reg.example.com/aim/openldap:stable") ||
		!strings.Contains(err.Error(), "image \"<ref>\" { target") {
		t.Errorf("err = %v", err)
	}
}

func TestCheck(t *testing.T) {
	cfg, b := repo(t, "")
	res := &fakeResolver{tags: map[string]string{"docker.io/library/nginx:1.27": "n", "docker.io/library/redis:7": "r"}}
	l, _, err := Update(context.Background(), cfg, found(b, "nginx:1.27", "redis:7"), nil, res, Options{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(f *discover.Result) []string {
		t.Helper()
		changes, err := Check(cfg, f, l)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range changes {
			out = append(out, c.String())
		}
		return out
	}
	if got := check(found(b, "nginx:1.27", "redis:7")); len(got) != 0 {
		t.Errorf("fresh lock reported stale: %v", got)
	}
	if got := strings.Join(check(found(b, "nginx:1.27", "pg:15")), "\n"); got != "+ image docker.io/library/pg:15\n- image docker.io/library/redis:7" {
		t.Errorf("stale lock: %q", got)
	}
	moved := found(b, "nginx:1.27", "redis:7")
	moved.Images[1].Sources = []string{"other.yaml#services.cache.image"}
	if got := check(moved); len(got) != 1 || !strings.Contains(got[0], "sources") {
		t.Errorf("moved source: %v", got)
	}
	shared := *b
	shared.Services = []string{"web", "web-2"}
	if got := check(found(&shared, "nginx:1.27", "redis:7")); len(got) != 1 ||
		got[0] != `~ build docker.io/library/web:v1: services "web" -> "web, web-2"` {
		t.Errorf("a second service sharing the build: %v", got)
	}
	write(t, filepath.Join(cfg.Dir, "web", "index.html"), "changed\n")
	if got := check(found(b, "nginx:1.27", "redis:7")); len(got) != 1 || !strings.HasPrefix(got[0], "~ build docker.io/library/web:v1: inputs sha256:") {
		t.Errorf("changed context: %v", got)
	}
}

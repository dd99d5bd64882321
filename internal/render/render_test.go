package render

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/<name>, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", path, got)
	}
}

func dg(s string) digest.Digest { return digest.FromString(s) }

const reg = "reg.example.com/shop"

// fixtureLock is the lock of testdata/project: three mirrored images (not
// the debug service's, as if excluded) and the two builds.
func fixtureLock() *lock.Lock {
	img := func(src, target string) lock.Image {
		return lock.Image{Ref: imageref.MustParse(src), Digest: dg(imageref.MustParse(src).String()), MediaType: "application/vnd.oci.image.index.v1+json",
			Target: imageref.MustParse(reg + "/" + target)}
	}
	build := func(src, service, target string) lock.Build {
		return lock.Build{Ref: imageref.MustParse(src), Services: []string{service}, Context: "web", Dockerfile: "web/Dockerfile",
			Target: imageref.MustParse(reg + "/" + target), Inputs: dg(imageref.MustParse(src).String() + " inputs")}
	}
	l := &lock.Lock{
		Images: []lock.Image{img("redis:7-alpine", "redis:7-alpine"), img("postgres:15-alpine", "postgres:15-alpine"),
			img("nginx:1.27-alpine", "nginx:1.27-alpine")},
		Builds: []lock.Build{build("shop-web:v1", "web", "shop-web:v1"), build("shop-admin", "admin", "shop-admin:latest")},
	}
	l.Normalize()
	return l
}

// target is the target registry as a diff.Observer: what each tag points
// at and the inputs label of its image.
type target struct {
	tags   map[string]digest.Digest
	inputs map[string]digest.Digest
}

func (f *target) HeadTarget(_ context.Context, ref imageref.Ref) (registry.Head, error) {
	d, ok := f.tags[ref.String()]
	if !ok {
		return registry.Head{}, fmt.Errorf("HEAD %s: %w", ref, registry.ErrNotFound)
	}
	return registry.Head{Digest: d}, nil
}

func (f *target) TargetLabels(ctx context.Context, ref imageref.Ref) (registry.Head, map[string]string, error) {
	h, err := f.HeadTarget(ctx, ref)
	return h, map[string]string{lock.InputsLabel: f.inputs[ref.String()].String()}, err
}

// builtTarget holds both builds with their locked inputs.
func builtTarget(l *lock.Lock) *target {
	t := &target{tags: map[string]digest.Digest{}, inputs: map[string]digest.Digest{}}
	for _, b := range l.Builds {
		t.tags[b.Target.String()] = dg("built " + b.Ref.String())
		t.inputs[b.Target.String()] = b.Inputs
	}
	return t
}

// fixturePins are the pins of fixtureLock with the builds read from obs
// by diff.ObserveBuilds, as imagesync reads them.
func fixturePins(t *testing.T, l *lock.Lock, obs diff.Observer) *Pins {
	t.Helper()
	built, err := diff.ObserveBuilds(context.Background(), obs, l.Builds)
	if err != nil {
		t.Fatal(err)
	}
	return NewPins(l, built)
}

// project is testdata/project as discovery loads it.
func project(t *testing.T) *discover.ComposeProject {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("testdata", "project"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := discover.LoadCompose(context.Background(), discover.ComposeOptions{Root: root, Files: []string{"compose.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompose(t *testing.T) {
	l := fixtureLock()
	pins := fixturePins(t, l, builtTarget(l))
	res, err := Compose(project(t), pins, ComposeOptions{Files: []string{"compose.yaml"}, Out: "compose.mirror.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "compose.mirror.yaml", res.Data)
	if res.Services != 6 || len(res.LeftAlone) != 1 ||
		res.LeftAlone[0] != "service debug: docker.io/redislabs/redisinsight:latest is not in images.lock (left as it is)" {
		t.Errorf("%d services, left alone %q", res.Services, res.LeftAlone)
	}
	checkWithCompose(t, res.Data, map[string]string{
		"web":    reg + "/shop-web@" + dg("built docker.io/library/shop-web:v1").String(),
		"worker": reg + "/shop-web@" + dg("built docker.io/library/shop-web:v1").String(),
		"admin":  reg + "/shop-admin@" + dg("built docker.io/library/shop-admin:latest").String(),
		"cache":  reg + "/redis@" + dg("docker.io/library/redis:7-alpine").String(),
		"db":     reg + "/postgres@" + dg("docker.io/library/postgres:15-alpine").String(),
		"8080":   reg + "/nginx@" + dg("docker.io/library/nginx:1.27-alpine").String(),
		"debug":  "redislabs/redisinsight:latest",
	})
}

// checkWithCompose loads the project's file and the override with
// compose-go, docker compose's own loader, every profile on, and checks
// that each service runs the image wanted and builds nothing.
func checkWithCompose(t *testing.T, override []byte, want map[string]string) {
	t.Helper()
	dir := filepath.Join("testdata", "project")
	out := filepath.Join(t.TempDir(), "compose.mirror.yaml")
	if err := os.WriteFile(out, override, 0o644); err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml"), out},
		cli.WithWorkingDirectory(dir), cli.WithProfiles([]string{"*"}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose-go refuses the project with the override: %v", err)
	}
	if len(p.Services) != len(want) {
		t.Errorf("compose-go sees %d services, want %d", len(p.Services), len(want))
	}
	for name, image := range want {
		svc, ok := p.Services[name]
		if !ok {
			t.Errorf("service %s missing", name)
			continue
		}
		if svc.Image != image || svc.Build != nil {
			t.Errorf("service %s: image %q, build %+v; want %q and no build", name, svc.Image, svc.Build, image)
		}
	}
}

func TestComposeNotBuilt(t *testing.T) {
	l := fixtureLock()
	obs := builtTarget(l)
	obs.inputs[reg+"/shop-web:v1"] = dg("yesterday's inputs")
	delete(obs.tags, reg+"/shop-admin:latest")
	_, err := Compose(project(t), fixturePins(t, l, obs), ComposeOptions{Files: []string{"compose.yaml"}, Out: "compose.mirror.yaml"})
	var notBuilt *notBuiltError
	if !errors.As(err, &notBuilt) {
		t.Fatalf("err = %v", err)
	}
	web := reg + "/shop-web:v1 was built from inputs " + dg("yesterday's inputs").String() +
		", not the locked " + dg("docker.io/library/shop-web:v1 inputs").String() + "\n"
	want := "the target registry holds no image built from the locked inputs for:\n" +
		"  service admin: the target registry has no " + reg + "/shop-admin:latest\n" +
		"  service web: " + web + "  service worker: " + web +
		"run \"imagesync apply\" first, then render again"
	if err.Error() != want {
		t.Errorf("err =\n%s\nwant\n%s", err, want)
	}
}

func TestEnv(t *testing.T) {
	l := fixtureLock()
	pins := fixturePins(t, l, builtTarget(l))
	cfg := renderConfig(t, `render {
  env = {
    REDIS_IMAGE = "docker.io/library/redis:7-alpine"
    WEB_IMAGE   = "shop-web:v1"
    DB_IMAGE    = "postgres:15-alpine"
  }
}`)
	data, diags := Env(cfg.Render, pins)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	golden(t, "env.txt", data)

	obs := builtTarget(l)
	delete(obs.tags, reg+"/shop-web:v1")
	cfg = renderConfig(t, `render {
  env = {
    REDIS_IMAGE = "redis:8"
    WEB_IMAGE   = "shop-web:v1"
    DB_IMAGE    = "postgres:15-alpine"
  }
}`)
	_, diags = Env(cfg.Render, fixturePins(t, l, obs))
	var got []string
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%d:%d %s: %s", d.Subject.Start.Line, d.Subject.Start.Column, d.Summary, d.Detail))
	}
	want := []string{
		`4:19 Image not in images.lock: REDIS_IMAGE names docker.io/library/redis:8, which images.lock does not hold: only locked images are rendered. Name an image of "imagesync images", or add this one (to a compose file or an image block) and run "imagesync lock".`,
		`5:19 Image not built from the locked inputs: WEB_IMAGE names docker.io/library/shop-web:v1, built by service web: the target registry has no ` + reg + `/shop-web:v1. Run "imagesync apply" first.`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	_, diags = Env(renderConfig(t, "").Render, pins)
	if !diags.HasErrors() || diags[0].Summary != "No render.env entries" || diags[0].Subject != nil {
		t.Errorf("without a render block: %v", diags)
	}
	_, diags = Env(renderConfig(t, "render {}").Render, pins)
	if !diags.HasErrors() || diags[0].Subject == nil || diags[0].Subject.Start.Line != 2 {
		t.Errorf("an empty render block: %v", diags)
	}
}

// renderConfig is images.hcl with a target and the given blocks.
func renderConfig(t *testing.T, blocks string) *config.Config {
	t.Helper()
	src := "target { registry = \"" + reg + "\" }\n" + blocks + "\n"
	cfg, diags := config.Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return cfg
}

func TestJSON(t *testing.T) {
	l := fixtureLock()
	data, err := JSON(fixturePins(t, l, builtTarget(l)))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "images.json", data)

	obs := builtTarget(l)
	obs.inputs[reg+"/shop-admin:latest"] = ""
	_, err = JSON(fixturePins(t, l, obs))
	if err == nil || !strings.Contains(err.Error(), "the target registry holds no image built from the locked inputs for:") ||
		!strings.Contains(err.Error(), "docker.io/library/shop-admin:latest (service admin): "+reg+"/shop-admin:latest records no inputs, not the locked") {
		t.Errorf("a build without its inputs label: %v", err)
	}
}

// TestPinsOnlyBuildsRead: NewPins keeps the builds it is given, the
// mirrored images always.
func TestPinsOnlyBuildsRead(t *testing.T) {
	l := fixtureLock()
	pins := NewPins(l, nil)
	if _, ok := pins.lookup(imageref.MustParse("shop-web:v1")); ok {
		t.Error("a build that was not read is pinned")
	}
	p, ok := pins.lookup(imageref.MustParse("redis:7-alpine"))
	if !ok || p.Ref() != reg+"/redis@"+dg("docker.io/library/redis:7-alpine").String() || p.isBuild() {
		t.Errorf("redis = %+v", p)
	}
}

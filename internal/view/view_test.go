package view

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/workspace"
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

// fixtureTarget is the target registry the golden plans are made against:
// alpine and worker are in place, redis and web are out of date, the rest
// is missing.
type fixtureTarget struct{}

var fixtureTags = map[string]digest.Digest{
	"reg.example.com/aim/alpine:latest":  dg("alpine"),
	"reg.example.com/aim/redis:7-alpine": dg("redis-old"),
	"reg.example.com/aim/web:v1":         dg("web-img"),
	"reg.example.com/aim/worker:v1":      dg("worker-img"),
}

var fixtureLabels = map[string]string{
	"reg.example.com/aim/web:v1":    dg("web-old").String(),
	"reg.example.com/aim/worker:v1": dg("worker-in").String(),
}

func (fixtureTarget) HeadTarget(_ context.Context, ref imageref.Ref) (registry.Head, error) {
	d, ok := fixtureTags[ref.String()]
	if !ok {
		return registry.Head{}, fmt.Errorf("HEAD %s: %w", ref, registry.ErrNotFound)
	}
	return registry.Head{Digest: d}, nil
}

func (f fixtureTarget) TargetLabels(ctx context.Context, ref imageref.Ref) (registry.Head, map[string]string, error) {
	h, err := f.HeadTarget(ctx, ref)
	return h, map[string]string{lock.InputsLabel: fixtureLabels[ref.String()]}, err
}

// fixturePlan is diff.Make's plan of testdata/fixture.lock against
// fixtureTarget, so that the golden files show what imagesync prints.
func fixturePlan(t testing.TB, opts diff.Options) *diff.Plan {
	t.Helper()
	l, sum := fixtureLock(t)
	p, err := diff.Make(context.Background(), l, sum, fixtureTarget{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fixtureLock is testdata/fixture.lock with its sha256.
func fixtureLock(t testing.TB) (*lock.Lock, digest.Digest) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "fixture.lock"))
	if err != nil {
		t.Fatal(err)
	}
	l, diags := lock.Parse(hclparse.NewParser(), "fixture.lock", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return l, digest.FromBytes(src)
}

// samplePlan is the fixture's images without the builds.
func samplePlan(t testing.TB) *diff.Plan { return fixturePlan(t, diff.Options{SkipBuilds: true}) }

// buildPlan is the whole fixture, builds included.
func buildPlan(t testing.TB) *diff.Plan { return fixturePlan(t, diff.Options{}) }

// changeOf returns the plan's change of source.
func changeOf(t testing.TB, p *diff.Plan, source string) diff.Change {
	t.Helper()
	for _, c := range p.Changes {
		if c.Source.String() == source {
			return c
		}
	}
	t.Fatalf("%s is not in the plan", source)
	return diff.Change{}
}

func TestPlanText(t *testing.T) {
	for _, tt := range []struct {
		name    string
		plan    *diff.Plan
		verbose bool
	}{
		{"plan.txt", samplePlan(t), false},
		{"plan-verbose.txt", samplePlan(t), true},
		{"plan-nochanges.txt", fixturePlan(t, diff.Options{Targets: []imageref.Ref{imageref.MustParse("alpine")}}), false},
		{"plan-builds.txt", buildPlan(t), false},
	} {
		var buf bytes.Buffer
		if err := WritePlan(&buf, tt.plan, tt.verbose); err != nil {
			t.Fatal(err)
		}
		golden(t, tt.name, buf.Bytes())
	}
}

func TestPlanJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePlanJSON(&buf, buildPlan(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.json", buf.Bytes())
}

func TestApplySummary(t *testing.T) {
	p := samplePlan(t)
	ok := []apply.Result{
		{Change: changeOf(t, p, "docker.io/library/nginx:1.27-alpine"), BytesUploaded: 3 << 20, BlobsUploaded: 4, BlobsMounted: 2, Duration: 1500 * time.Millisecond},
		{Change: changeOf(t, p, "docker.io/library/redis:7-alpine"), BytesUploaded: 1234, BlobsUploaded: 1, BlobsSkipped: 5, Duration: 200 * time.Millisecond},
	}
	failed := append(append([]apply.Result(nil), ok...), apply.Result{Change: changeOf(t, p, "quay.io/minio/minio:latest"), Duration: time.Second,
		Err: errors.New("read quay.io/minio/minio@sha256:...: connection refused")})
	wait := &registry.WaitTooLongError{Method: "GET", Host: "quay.io", Path: "/v2/minio/minio/manifests/sha256:5791", Status: "429 Too Many Requests",
		Wait: time.Hour, MaxWait: 5 * time.Minute, Until: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	stopped := append(append([]apply.Result(nil), ok[:1]...),
		apply.Result{Change: changeOf(t, p, "quay.io/minio/minio:latest"), Duration: time.Second, Err: fmt.Errorf("read quay.io/minio/minio@sha256:...: %w", wait)},
		apply.Result{Change: changeOf(t, p, "docker.io/library/redis:7-alpine"), Err: fmt.Errorf("%w: %w", apply.ErrNotStarted, wait)})
	for _, tt := range []struct {
		name string
		res  *workspace.ApplyResult
	}{
		{"apply-ok", &workspace.ApplyResult{Results: ok, Unchanged: 1}},
		{"apply-failed", &workspace.ApplyResult{Results: failed, Unchanged: 1}},
		{"apply-stopped", &workspace.ApplyResult{Results: stopped, Unchanged: 1, Stopped: wait}},
		{"apply-nothing", &workspace.ApplyResult{Unchanged: 4}},
	} {
		var text, md, js bytes.Buffer
		if err := WriteApplySummary(&text, tt.res); err != nil {
			t.Fatal(err)
		}
		if err := WriteApplyMarkdown(&md, tt.res, MarkdownOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := WriteApplyJSON(&js, tt.res); err != nil {
			t.Fatal(err)
		}
		golden(t, tt.name+".txt", text.Bytes())
		golden(t, tt.name+".md", md.Bytes())
		golden(t, tt.name+".json", js.Bytes())
	}
}

func TestLineProgress(t *testing.T) {
	var buf bytes.Buffer
	p := NewLineProgress(&buf)
	c := changeOf(t, samplePlan(t), "docker.io/library/nginx:1.27-alpine")
	p.Started(c)
	p.Sized(c, 100)
	p.Advanced(c, 100)
	p.Finished(apply.Result{Change: c, BytesUploaded: 2048, BlobsMounted: 1, BlobsSkipped: 2, Duration: 1200 * time.Millisecond})
	p.Finished(apply.Result{Change: c, Duration: time.Second, Err: errors.New("boom")})
	golden(t, "progress.txt", buf.Bytes())
}

func TestImagesTable(t *testing.T) {
	l := &lock.Lock{
		Images: []lock.Image{{Ref: imageref.MustParse("nginx:1.27-alpine"), Digest: digest.FromString("nginx"),
			MediaType: "application/vnd.oci.image.index.v1+json", Platforms: []string{"linux/amd64", "linux/arm64"},
			Target:  imageref.MustParse("reg.example.com/aim/nginx:1.27-alpine"),
			Sources: []string{"docker-compose.yml#services.gateway.image", "src/web/Dockerfile#FROM 1"}}},
		Builds: []lock.Build{{Ref: imageref.MustParse("web:v1"), Services: []string{"web"}, Context: "src/web", Dockerfile: "src/web/Dockerfile",
			Bases: []imageref.Ref{imageref.MustParse("nginx:1.27-alpine")}, Target: imageref.MustParse("reg.example.com/aim/web:v1"),
			Inputs: digest.FromString("inputs")}, {Ref: imageref.MustParse("saltstack:v1"), Services: []string{"salt-master-1", "salt-master-2"},
			Context: "src/salt", Dockerfile: "src/salt/Dockerfile", Target: imageref.MustParse("reg.example.com/aim/saltstack:v1"),
			Inputs: digest.FromString("salt")}},
	}
	var buf bytes.Buffer
	if err := WriteImagesTable(&buf, LockedImages(l)); err != nil {
		t.Fatal(err)
	}
	golden(t, "images.txt", buf.Bytes())
	buf.Reset()
	if err := WriteImagesJSON(&buf, LockedImages(l)); err != nil {
		t.Fatal(err)
	}
	golden(t, "images.json", buf.Bytes())
}

func TestDiagnostics(t *testing.T) {
	files, diags := sampleDiagnostics(t)
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, files, diags); err != nil {
		t.Fatal(err)
	}
	golden(t, "diagnostics.txt", buf.Bytes())
}

// sampleDiagnostics are two errors of config.Parse, a warning with a place
// and an error without one, as lock.Load and config.Load produce them.
func sampleDiagnostics(t *testing.T) (map[string]*hcl.File, hcl.Diagnostics) {
	t.Helper()
	p := hclparse.NewParser()
	src := "target {\n  registry = \"r.example.com\"\n  layuot   = \"flat\"\n}\nimage \"Bad\" {}\n"
	_, diags := config.Parse(p, "images.hcl", t.TempDir(), []byte(src))
	if len(diags) != 2 {
		t.Fatalf("config.Parse gave %d diagnostics, want 2: %v", len(diags), diags)
	}
	diags = append(diags,
		&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Deprecated attribute", Detail: "Use layout.", Subject: diags[0].Subject},
		&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read config file", Detail: "Reading images.hcl: no such file."})
	return p.Files(), diags
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

package view

import (
	"bytes"
	"errors"
	"flag"
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

func dg(s string) string { return digest.FromString(s).String() }

func samplePlan() *diff.Plan {
	p := &diff.Plan{FormatVersion: diff.FormatVersion, LockSHA256: dg("lock"), Changes: []diff.Change{
		{Action: diff.NoOp, Source: "docker.io/library/alpine:latest", Target: "reg.example.com/aim/alpine:latest",
			Digest: dg("alpine"), CurrentDigest: dg("alpine"), MediaType: "application/vnd.oci.image.index.v1+json", Platforms: []string{"linux/amd64"}},
		{Action: diff.Create, Source: "docker.io/library/nginx:1.27-alpine", Target: "reg.example.com/aim/nginx:1.27-alpine",
			Digest: dg("nginx"), MediaType: "application/vnd.oci.image.index.v1+json", Platforms: []string{"linux/amd64", "linux/arm64"}},
		{Action: diff.Update, Source: "docker.io/library/redis:7-alpine", Target: "reg.example.com/aim/redis:7-alpine",
			Digest: dg("redis-new"), CurrentDigest: dg("redis-old"), MediaType: "application/vnd.docker.distribution.manifest.list.v2+json", Platforms: []string{"linux/amd64"}},
		{Action: diff.Create, Source: "quay.io/minio/minio:latest", Target: "reg.example.com/aim/minio/minio:latest",
			Digest: dg("minio"), MediaType: "application/vnd.oci.image.index.v1+json", Platforms: []string{"linux/amd64"}},
	}}
	p.Summary = diff.Summary{Create: 2, Update: 1, Unchanged: 1}
	return p
}

func buildPlan() *diff.Plan {
	p := samplePlan()
	p.Changes = append(p.Changes,
		diff.Change{Kind: diff.KindBuild, Action: diff.Build, Source: "docker.io/library/api:v1", Target: "reg.example.com/aim/api:v1",
			Services: []string{"api"}, Service: "api", Inputs: dg("api-in")},
		diff.Change{Kind: diff.KindBuild, Action: diff.Build, Source: "docker.io/library/saltstack:v1", Target: "reg.example.com/aim/saltstack:v1",
			Services: []string{"salt-master-1", "salt-master-2"}, Service: "salt-master-1", Inputs: dg("salt-in")},
		diff.Change{Kind: diff.KindBuild, Action: diff.Rebuild, Source: "docker.io/library/web:v1", Target: "reg.example.com/aim/web:v1",
			Services: []string{"web"}, Service: "web", Inputs: dg("web-new"), CurrentInputs: dg("web-old"), CurrentDigest: dg("web-img")},
		// As in a plan saved before builds could be shared: Service only.
		diff.Change{Kind: diff.KindBuild, Action: diff.NoOp, Source: "docker.io/library/worker:v1", Target: "reg.example.com/aim/worker:v1",
			Service: "worker", Inputs: dg("worker-in"), CurrentInputs: dg("worker-in"), CurrentDigest: dg("worker-img")})
	p.Summary = diff.Summary{Create: 2, Update: 1, Build: 2, Rebuild: 1, Unchanged: 2}
	return p
}

func TestPlanText(t *testing.T) {
	for _, tt := range []struct {
		name    string
		plan    *diff.Plan
		verbose bool
	}{
		{"plan.txt", samplePlan(), false},
		{"plan-verbose.txt", samplePlan(), true},
		{"plan-nochanges.txt", &diff.Plan{Changes: samplePlan().Changes[:1], Summary: diff.Summary{Unchanged: 1}}, false},
		{"plan-builds.txt", buildPlan(), false},
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
	if err := WritePlanJSON(&buf, buildPlan()); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.json", buf.Bytes())
}

func TestApplySummary(t *testing.T) {
	p := samplePlan()
	ok := []apply.Result{
		{Change: p.Changes[1], BytesUploaded: 3 << 20, BlobsUploaded: 4, BlobsMounted: 2, Duration: 1500 * time.Millisecond},
		{Change: p.Changes[2], BytesUploaded: 1234, BlobsUploaded: 1, BlobsSkipped: 5, Duration: 200 * time.Millisecond},
	}
	var buf bytes.Buffer
	if err := WriteApplySummary(&buf, ok, 1); err != nil {
		t.Fatal(err)
	}
	golden(t, "apply-ok.txt", buf.Bytes())

	failed := append(ok, apply.Result{Change: p.Changes[3], Duration: time.Second,
		Err: errors.New("read quay.io/minio/minio@sha256:...: connection refused")})
	buf.Reset()
	if err := WriteApplySummary(&buf, failed, 1); err != nil {
		t.Fatal(err)
	}
	golden(t, "apply-failed.txt", buf.Bytes())
}

func TestLineProgress(t *testing.T) {
	var buf bytes.Buffer
	p := NewLineProgress(&buf)
	c := samplePlan().Changes[1]
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

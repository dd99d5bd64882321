package view

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/preflight"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/verify"
	"github.com/imagesync/imagesync/internal/workspace"
)

// fixtureProber is what the golden preflights are made against: the
// minio repository is missing (NAME_UNKNOWN) and the credentials may not
// push to saltstack's; nginx's repository does not exist yet; web's could
// not be checked; docker.io announces 3 pulls left of 100, quay.io none.
type fixtureProber struct{}

func (fixtureProber) RepositoryExists(_ context.Context, ref imageref.Ref) (bool, error) {
	return ref.Path() != "aim/nginx", nil
}

func (fixtureProber) CheckPush(_ context.Context, ref imageref.Ref) error {
	switch ref.Path() {
	case "aim/minio/minio":
		return fmt.Errorf("start upload: %w: %w", registry.ErrNotFound, &transport.Error{StatusCode: http.StatusNotFound,
			Errors: []transport.Diagnostic{{Code: transport.NameUnknownErrorCode, Message: "repository name not known to registry"}}})
	case "aim/saltstack":
		return &registry.AuthError{Host: "reg.example.com", Status: http.StatusForbidden, Detail: "DENIED: requested access to the resource is denied"}
	case "aim/web":
		return fmt.Errorf("start upload to reg.example.com/aim/web: connection refused")
	}
	return nil
}

func (fixtureProber) Resolve(_ context.Context, ref imageref.Ref) (registry.Head, error) {
	repo, err := name.NewRepository(ref.Repository())
	if err != nil {
		return registry.Head{}, err
	}
	head := registry.Head{Digest: ref.Digest(), Endpoint: registry.Endpoint{Repo: repo}}
	if ref.Domain() == "docker.io" {
		head.RateLimit = &registry.RateLimit{Limit: 100, Remaining: 3, Window: 6 * time.Hour}
	}
	return head, nil
}

// checkedPlan is the fixture's plan with the preflight made against
// fixtureProber.
func checkedPlan(t testing.TB, opts diff.Options) *diff.Plan {
	p := fixturePlan(t, opts)
	p.Preflight = preflight.Run(context.Background(), p, fixtureProber{}, preflight.Options{CheckTargets: true, ReadRateLimits: true})
	return p
}

// notComparedPlan is the fixture planned against a base lock that has
// redis at another digest and lacks minio and the saltstack build.
func notComparedPlan(t testing.TB) *diff.Plan {
	l, sum := fixtureLock(t)
	base := &lock.Lock{Images: append([]lock.Image(nil), l.Images[:3]...), Builds: append([]lock.Build{l.Builds[0]}, l.Builds[2:]...)}
	base.Images[2].Digest = dg("redis-old")
	nc := diff.NotCompared{Reason: "authentication to reg.example.com failed: it requires a login and no credentials for reg.example.com were found (401 Unauthorized)", BaseLock: "base.lock"}
	p, err := diff.AgainstLock(l, sum, base, nc, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.Preflight = preflight.Run(context.Background(), p, fixtureProber{}, preflight.Options{ReadRateLimits: true})
	return p
}

// bigPlan is diff.Make's plan of a lock of n images, a third of them in
// place, a third at an older digest, the rest missing.
func bigPlan(t testing.TB, n int) *diff.Plan {
	l := &lock.Lock{}
	tags := map[string]digest.Digest{}
	for i := range n {
		img := lock.Image{Ref: imageref.MustParse(fmt.Sprintf("docker.io/bench/image-%04d:v1", i)), Digest: dg(fmt.Sprintf("image-%d", i)),
			MediaType: "application/vnd.oci.image.index.v1+json", Platforms: []string{"linux/amd64", "linux/arm64"},
			Target:  imageref.MustParse(fmt.Sprintf("reg.example.com/mirror/bench/image-%04d:v1", i)),
			Sources: []string{fmt.Sprintf("services/%04d/compose.yaml#services.app.image", i)}}
		switch i % 3 {
		case 0:
			tags[img.Target.String()] = img.Digest
		case 1:
			tags[img.Target.String()] = dg(fmt.Sprintf("old-%d", i))
		}
		l.Images = append(l.Images, img)
	}
	l.Normalize()
	p, err := diff.Make(context.Background(), l, dg("big lock"), mapTarget(tags), diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mapTarget is a target registry holding the given tags.
type mapTarget map[string]digest.Digest

func (m mapTarget) HeadTarget(_ context.Context, ref imageref.Ref) (registry.Head, error) {
	d, ok := m[ref.String()]
	if !ok {
		return registry.Head{}, registry.ErrNotFound
	}
	return registry.Head{Digest: d}, nil
}

func (m mapTarget) TargetLabels(ctx context.Context, ref imageref.Ref) (registry.Head, map[string]string, error) {
	h, err := m.HeadTarget(ctx, ref)
	return h, nil, err
}

func TestPlanMarkdown(t *testing.T) {
	for _, tt := range []struct {
		name string
		plan *diff.Plan
	}{
		{"plan-empty.md", fixturePlan(t, diff.Options{Targets: []imageref.Ref{imageref.MustParse("alpine")}})},
		{"plan-small.md", samplePlan(t)},
		{"plan-builds.md", buildPlan(t)},
		{"plan-failures.md", checkedPlan(t, diff.Options{})},
		{"plan-not-compared.md", notComparedPlan(t)},
		{"plan-500.md", bigPlan(t, 500)},
	} {
		var buf bytes.Buffer
		if err := WritePlanMarkdown(&buf, tt.plan, MarkdownOptions{}); err != nil {
			t.Fatal(err)
		}
		golden(t, tt.name, buf.Bytes())
	}
	// 500 rows: every table cut at the limit, saying how many are left out.
	var buf bytes.Buffer
	if err := WritePlanMarkdown(&buf, bigPlan(t, 500), MarkdownOptions{MaxRows: 10}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"### Create (166)", "_… and 156 more to create, not shown._", "### Update (167)", "_… and 157 more to update, not shown._",
		"<details><summary>167 unchanged images</summary>", "_… and 157 more unchanged, not shown._"} {
		if !strings.Contains(out, want) {
			t.Errorf("a 500-row plan with MaxRows 10 lacks %q", want)
		}
	}
	if rows := strings.Count(out, "\n| `docker.io/bench/"); rows != 30 {
		t.Errorf("%d rows, want 30", rows)
	}
	if len(out) > 16<<10 {
		t.Errorf("%d bytes", len(out))
	}
}

func TestPlanTextPreflight(t *testing.T) {
	for _, tt := range []struct {
		name string
		plan *diff.Plan
	}{
		{"plan-preflight.txt", checkedPlan(t, diff.Options{})},
		{"plan-not-compared.txt", notComparedPlan(t)},
	} {
		var buf bytes.Buffer
		if err := WritePlan(&buf, tt.plan, false); err != nil {
			t.Fatal(err)
		}
		golden(t, tt.name, buf.Bytes())
	}
	var buf bytes.Buffer
	if err := WritePlanJSON(&buf, checkedPlan(t, diff.Options{})); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan-preflight.json", buf.Bytes())
}

func TestLockCheckDocuments(t *testing.T) {
	l, _ := fixtureLock(t)
	for _, tt := range []struct {
		name  string
		check LockCheck
	}{
		{"lock-check-ok", LockCheck{LockName: "images.lock", Lock: l}},
		{"lock-check-stale", LockCheck{LockName: "images.lock", Fix: "imagesync -C examples lock", Stale: &workspace.StaleLockError{LockName: "images.lock",
			Changes: []lock.Change{
				{Kind: lock.Added, Ref: imageref.MustParse("redis:7")},
				{Kind: lock.Removed, Ref: imageref.MustParse("redis:6")},
				{Kind: lock.Moved, Ref: imageref.MustParse("web:v1"), Build: true, Detail: "inputs sha256:0c2d -> sha256:77ab"},
			}}}},
		{"lock-check-missing", LockCheck{LockName: "images.lock", Fix: "imagesync lock", Stale: &workspace.StaleLockError{LockName: "images.lock", Missing: true}}},
	} {
		var md, js bytes.Buffer
		if err := WriteLockCheckMarkdown(&md, tt.check, MarkdownOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := WriteLockCheckJSON(&js, tt.check); err != nil {
			t.Fatal(err)
		}
		golden(t, tt.name+".md", md.Bytes())
		golden(t, tt.name+".json", js.Bytes())
	}
}

func TestVerifyAndImagesMarkdown(t *testing.T) {
	l, _ := fixtureLock(t)
	for _, tc := range []struct {
		name string
		lock *lock.Lock
		deep bool
	}{
		{"verify-problems.md", l, true},
		{"verify-ok.md", &lock.Lock{Images: l.Images[:1]}, false},
	} {
		rep, err := verify.Check(context.Background(), tc.lock, fixtureAuditor{}, verify.Options{Deep: tc.deep})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteVerifyMarkdown(&buf, rep, MarkdownOptions{}); err != nil {
			t.Fatal(err)
		}
		golden(t, tc.name, buf.Bytes())
	}
	var buf bytes.Buffer
	if err := WriteImagesMarkdown(&buf, LockedImages(l), MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "images.md", buf.Bytes())
}

func TestAnnotations(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "fixture.lock"))
	if err != nil {
		t.Fatal(err)
	}
	lockFile, diags := hclsyntax.ParseConfig(src, "fixture.lock", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, sample := sampleDiagnostics(t)
	var as []Annotation
	as = append(as, DiagnosticAnnotations(sample, func(name string) string { return "repo/" + name })...)
	as = append(as, StaleLockAnnotations(&workspace.StaleLockError{LockName: "images.lock", Changes: []lock.Change{
		{Kind: lock.Added, Ref: imageref.MustParse("redis:7")},
		{Kind: lock.Removed, Ref: imageref.MustParse("redis:7-alpine")},
		{Kind: lock.Moved, Ref: imageref.MustParse("web:v1"), Build: true, Detail: "inputs sha256:0c2d -> sha256:77ab"},
	}}, lockFile, "repo/images.lock", "imagesync -C repo lock")...)
	p := checkedPlan(t, diff.Options{})
	as = append(as, PreflightAnnotations(p, lockFile, "repo/images.lock")...)
	failed := &workspace.ApplyResult{Results: []apply.Result{{Change: changeOf(t, p, "quay.io/minio/minio:latest"),
		Err: errors.New("put manifest: 50%, then: a\nreset")}}}
	as = append(as, FailedImageAnnotations(failed, lockFile, "repo/images.lock")...)
	var buf bytes.Buffer
	if err := WriteAnnotations(&buf, as); err != nil {
		t.Fatal(err)
	}
	golden(t, "annotations.txt", buf.Bytes())
}

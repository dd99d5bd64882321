package preflight

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/registry"
)

// fakeProber answers by repository path and counts what it is asked.
type fakeProber struct {
	mu       sync.Mutex
	push     map[string]error // by repository path; nil: accepted
	existing map[string]bool
	limits   map[string]*registry.RateLimit // by source domain
	heads    []string
	checked  []string
	listed   []string
}

func (f *fakeProber) RepositoryExists(_ context.Context, ref imageref.Ref) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listed = append(f.listed, ref.Path())
	return f.existing[ref.Path()], nil
}

func (f *fakeProber) CheckPush(_ context.Context, ref imageref.Ref) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checked = append(f.checked, ref.Path())
	return f.push[ref.Path()]
}

func (f *fakeProber) Resolve(_ context.Context, ref imageref.Ref) (registry.Head, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heads = append(f.heads, ref.String())
	if ref.Domain() == "quay.io" {
		return registry.Head{}, errors.New("HEAD quay.io: 503 Service Unavailable")
	}
	return registry.Head{Digest: ref.Digest(), RateLimit: f.limits[ref.Domain()]}, nil
}

func dg(s string) digest.Digest { return digest.FromString(s) }

func change(action diff.Action, source, target string, platforms int) diff.Change {
	c := diff.Change{Kind: diff.KindImage, Action: action, Source: imageref.MustParse(source), Target: imageref.MustParse(target),
		Digest: dg(source), MediaType: "application/vnd.oci.image.index.v1+json"}
	for i := range platforms {
		c.Platforms = append(c.Platforms, fmt.Sprintf("linux/arch%d", i))
	}
	if platforms == 0 {
		c.MediaType = "application/vnd.docker.distribution.manifest.v2+json"
	}
	return c
}

func samplePlan() *diff.Plan {
	p := &diff.Plan{Changes: []diff.Change{
		change(diff.Create, "nginx:1.27", "reg.example.com/aim/nginx:1.27", 2),
		change(diff.Update, "redis:7", "reg.example.com/aim/redis:7", 1),
		change(diff.Create, "busybox:1", "reg.example.com/ecr/busybox:1", 0),
		change(diff.Create, "quay.io/minio/minio:latest", "reg.example.com/ro/minio:latest", 3),
		change(diff.NoOp, "alpine:3", "reg.example.com/aim/alpine:3", 2),
		change(diff.Create, "debian:12", "reg.example.com/flaky/debian:12", 1),
		{Kind: diff.KindBuild, Action: diff.Build, Source: imageref.MustParse("web:v1"), Target: imageref.MustParse("reg.example.com/aim/web:v1")},
	}}
	return p
}

func TestRun(t *testing.T) {
	nameUnknown := fmt.Errorf("start upload: %w: %w", registry.ErrNotFound,
		&transport.Error{StatusCode: 404, Errors: []transport.Diagnostic{{Code: transport.NameUnknownErrorCode, Message: "repository name not known to registry"}}})
	pr := &fakeProber{
		push: map[string]error{
			"ecr/busybox": nameUnknown,
			"ro/minio":    &registry.AuthError{Host: "reg.example.com", Status: http.StatusForbidden, Detail: "DENIED: requested access to the resource is denied"},
			"flaky/debian": &registry.StatusError{Status: "500 Internal Server Error",
				Err: &transport.Error{StatusCode: 500}},
		},
		existing: map[string]bool{"aim/nginx": true},
		limits:   map[string]*registry.RateLimit{"docker.io": {Limit: 100, Remaining: 3, Window: 6 * time.Hour}},
	}
	pf := Run(t.Context(), samplePlan(), pr, Options{CheckTargets: true, ReadRateLimits: true})
	var got []string
	for _, c := range pf.Targets {
		got = append(got, c.Repository+" "+string(c.Status))
	}
	want := []string{
		"reg.example.com/aim/nginx ok", "reg.example.com/aim/redis ok", "reg.example.com/aim/web will be created on push",
		"reg.example.com/ecr/busybox missing", "reg.example.com/flaky/debian could not check", "reg.example.com/ro/minio no push permission",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(pf.Blocking()); n != 2 || !pf.Checked {
		t.Errorf("%d blocking, checked %v", n, pf.Checked)
	}
	if c := pf.Targets[3]; c.Detail != "NAME_UNKNOWN: repository name not known to registry" || !strings.Contains(c.Fix, `the project "ecr"`) {
		t.Errorf("missing: %+v", c)
	}
	if c := pf.Targets[5]; !strings.HasPrefix(c.Detail, "DENIED") || !strings.Contains(c.Fix, "grant push") {
		t.Errorf("no push: %+v", c)
	}
	// The unchanged image's repository is not checked; redis's exists
	// (the plan found its tag), so only nginx's and web's are listed.
	if len(pr.checked) != 6 || strings.Contains(strings.Join(pr.checked, ","), "alpine") {
		t.Errorf("checked %v", pr.checked)
	}
	if strings.Join(sorted(pr.listed), ",") != "aim/nginx,aim/web" {
		t.Errorf("listed %v", pr.listed)
	}
	wantPulls := []diff.SourcePulls{
		{Registry: "docker.io", Images: 4, Pulls: 3 + 2 + 1 + 2, RateLimit: &registry.RateLimit{Limit: 100, Remaining: 3, Window: 6 * time.Hour}},
		{Registry: "quay.io", Images: 1, Pulls: 4, Error: "HEAD quay.io: 503 Service Unavailable"},
	}
	for i := range wantPulls {
		wantPulls[i].Endpoint = pf.Pulls[i].Endpoint
	}
	if !reflect.DeepEqual(pf.Pulls, wantPulls) {
		t.Errorf("pulls %+v\nwant %+v", pf.Pulls, wantPulls)
	}
	if !pf.Pulls[0].Exceeds() || pf.Pulls[1].Exceeds() {
		t.Errorf("Exceeds: %v %v", pf.Pulls[0].Exceeds(), pf.Pulls[1].Exceeds())
	}
	// One HEAD per source registry, by digest, of the first image in
	// plan order.
	if strings.Join(sorted(pr.heads), ",") != "docker.io/library/nginx:1.27@"+dg("nginx:1.27").String()+",quay.io/minio/minio:latest@"+dg("quay.io/minio/minio:latest").String() {
		t.Errorf("heads %v", pr.heads)
	}
}

func TestRunSendsNothingUnasked(t *testing.T) {
	pr := &fakeProber{}
	pf := Run(t.Context(), samplePlan(), pr, Options{})
	if len(pr.checked)+len(pr.listed)+len(pr.heads) != 0 || pf.Checked || len(pf.Targets) != 0 || len(pf.Pulls) != 2 || pf.Pulls[0].RateLimit != nil {
		t.Errorf("without options: %+v, asked %v %v %v", pf, pr.checked, pr.listed, pr.heads)
	}
	noop := &diff.Plan{Changes: []diff.Change{change(diff.NoOp, "alpine:3", "reg.example.com/aim/alpine:3", 2)}}
	if pf := Run(t.Context(), noop, pr, Options{CheckTargets: true, ReadRateLimits: true}); pf != nil || len(pr.checked)+len(pr.heads) != 0 {
		t.Errorf("a no-op plan: %+v", pf)
	}
}

func TestCreateHint(t *testing.T) {
	for host, want := range map[string]string{
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com": "aws ecr create-repository --region eu-west-1 --repository-name team/app/redis",
		"europe-west1-docker.pkg.dev":                  "gcloud artifacts repositories create app --repository-format=docker --location=europe-west1 --project=team",
		"registry.cn-hangzhou.aliyuncs.com":            `namespace "team"`,
		"harbor.example.com":                           `the project "team"`,
	} {
		if got := CreateHint(host, "team/app/redis"); !strings.Contains(got, want) {
			t.Errorf("CreateHint(%s) = %q, want it to contain %q", host, got, want)
		}
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// TestManifestGets counts what apply GETs from the source per change, as
// the pull budget must.
func TestManifestGets(t *testing.T) {
	withReferrers := func(c diff.Change, n int) diff.Change {
		for i := range n {
			c.Referrers = append(c.Referrers, referrers.Artifact{Digest: dg(fmt.Sprint("sig", i))})
		}
		return c
	}
	filtered := change(diff.Create, "nginx:1.27", "reg.example.com/aim/nginx:1.27", 3)
	filtered.MirroredPlatforms = []string{"linux/arch0"}
	for _, tc := range []struct {
		name string
		c    diff.Change
		want int
	}{
		{"single manifest", change(diff.Create, "busybox:1", "r.example.com/b:1", 0), 1},
		{"index of two", change(diff.Create, "nginx:1.27", "r.example.com/n:1", 2), 3},
		{"index filtered to one platform", filtered, 2},
		{"index with two signatures", withReferrers(change(diff.Update, "nginx:1.27", "r.example.com/n:1", 2), 2), 5},
		{"in place, one referrer missing", withReferrers(change(diff.Referrers, "nginx:1.27", "r.example.com/n:1", 2), 1), 2},
	} {
		if got := manifestGets(tc.c); got != tc.want {
			t.Errorf("%s: %d manifest GETs, want %d", tc.name, got, tc.want)
		}
	}
}

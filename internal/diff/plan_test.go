package diff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

// fakeTarget serves target digests from a map and counts HEADs.
type fakeTarget struct {
	mu     sync.Mutex
	tags   map[string]digest.Digest
	heads  int
	fail   string                       // a target whose HEAD fails
	labels map[string]map[string]string // by target
}

func (f *fakeTarget) HeadTarget(_ context.Context, ref imageref.Ref) (registry.Head, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heads++
	if ref.String() == f.fail {
		return registry.Head{}, errors.New("connection refused")
	}
	d, ok := f.tags[ref.String()]
	if !ok {
		return registry.Head{}, fmt.Errorf("HEAD %s: %w", ref, registry.ErrNotFound)
	}
	return registry.Head{Digest: d}, nil
}

func (f *fakeTarget) TargetLabels(ctx context.Context, ref imageref.Ref) (registry.Head, map[string]string, error) {
	h, err := f.HeadTarget(ctx, ref)
	if err != nil {
		return h, nil, err
	}
	return h, f.labels[ref.String()], nil
}

func dg(s string) digest.Digest { return digest.FromString(s) }

func testLock() *lock.Lock {
	img := func(src, target, content string) lock.Image {
		return lock.Image{Ref: imageref.MustParse(src), Digest: dg(content), MediaType: "application/vnd.oci.image.index.v1+json",
			Platforms: []string{"linux/amd64", "linux/arm64"}, Target: imageref.MustParse(target)}
	}
	l := &lock.Lock{Images: []lock.Image{
		img("nginx:1.27-alpine", "reg.example.com/aim/nginx:1.27-alpine", "nginx"),
		img("redis:7-alpine", "reg.example.com/aim/redis:7-alpine", "redis-new"),
		img("quay.io/minio/minio:latest", "reg.example.com/aim/minio/minio:latest", "minio"),
		img("alpine@"+dg("alpine").String(), "reg.example.com/aim/alpine@"+dg("alpine").String(), "alpine"),
	}}
	l.Normalize()
	return l
}

func TestMake(t *testing.T) {
	target := &fakeTarget{tags: map[string]digest.Digest{
		"reg.example.com/aim/nginx:1.27-alpine":               dg("nginx"),
		"reg.example.com/aim/redis:7-alpine":                  dg("redis-old"),
		"reg.example.com/aim/alpine@" + dg("alpine").String(): dg("alpine"),
	}}
	p, err := Make(context.Background(), testLock(), dg("lock"), target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Change{}
	for _, c := range p.Changes {
		got[c.Source.String()] = c
	}
	if c := got["quay.io/minio/minio:latest"]; c.Action != Create || c.CurrentDigest != "" {
		t.Errorf("minio = %+v", c)
	}
	if c := got["docker.io/library/redis:7-alpine"]; c.Action != Update || c.CurrentDigest != dg("redis-old") || c.Digest != dg("redis-new") {
		t.Errorf("redis = %+v", c)
	}
	if c := got["docker.io/library/nginx:1.27-alpine"]; c.Action != NoOp {
		t.Errorf("nginx = %+v", c)
	}
	if p.Summary != (Summary{Create: 1, Update: 1, Unchanged: 2}) || !p.Summary.HasChanges() {
		t.Errorf("summary = %+v", p.Summary)
	}
	if target.heads != 4 {
		t.Errorf("%d HEADs for 4 images", target.heads)
	}
	if p.LockSHA256 != dg("lock") {
		t.Errorf("plan lock sum = %q", p.LockSHA256)
	}
	if pending := p.Pending(); len(pending) != 2 {
		t.Errorf("pending = %v", pending)
	}
}

func TestMakeTargets(t *testing.T) {
	target := &fakeTarget{tags: map[string]digest.Digest{}}
	p, err := Make(context.Background(), testLock(), dg("lock"), target, Options{Targets: []imageref.Ref{
		imageref.MustParse("redis:7-alpine"), imageref.MustParse("reg.example.com/aim/nginx:1.27-alpine"), imageref.MustParse("redis:7-alpine"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 2 || p.Changes[0].Source.String() != "docker.io/library/nginx:1.27-alpine" || target.heads != 2 {
		t.Errorf("changes = %+v, heads %d", p.Changes, target.heads)
	}
	_, err = Make(context.Background(), testLock(), dg("lock"), target, Options{Targets: []imageref.Ref{imageref.MustParse("nope:1")}})
	if err == nil || !strings.Contains(err.Error(), "--target docker.io/library/nope:1") {
		t.Errorf("unknown target: %v", err)
	}
}

func TestMakeTargetError(t *testing.T) {
	target := &fakeTarget{tags: map[string]digest.Digest{}, fail: "reg.example.com/aim/redis:7-alpine"}
	_, err := Make(context.Background(), testLock(), dg("lock"), target, Options{})
	if err == nil || !strings.Contains(err.Error(), "reg.example.com/aim/redis:7-alpine") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v", err)
	}
}

func TestCheckStale(t *testing.T) {
	target := &fakeTarget{tags: map[string]digest.Digest{"reg.example.com/aim/redis:7-alpine": dg("redis-old")}}
	p, err := Make(context.Background(), testLock(), dg("lock"), target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := CheckStale(ctx, p, dg("lock"), target); err != nil {
		t.Errorf("fresh plan is stale: %v", err)
	}
	var stale *StaleError
	if err := CheckStale(ctx, p, dg("other lock"), target); !errors.As(err, &stale) || !strings.Contains(err.Error(), "images.lock changed") {
		t.Errorf("changed lock: %v", err)
	}
	target.tags["reg.example.com/aim/nginx:1.27-alpine"] = dg("someone else")
	err = CheckStale(ctx, p, dg("lock"), target)
	if !errors.As(err, &stale) || !strings.Contains(err.Error(), "reg.example.com/aim/nginx:1.27-alpine moved since the plan: (missing) -> sha256:") {
		t.Errorf("moved target: %v", err)
	}
}

func TestPlanFileRoundTrip(t *testing.T) {
	target := &fakeTarget{tags: map[string]digest.Digest{"reg.example.com/aim/redis:7-alpine": dg("redis-old")}}
	p, err := Make(context.Background(), testLock(), dg("lock"), target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := EncodePlan(&buf, p); err != nil {
		t.Fatal(err)
	}
	back, err := DecodePlan(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("decoded plan differs from the model:\n%+v\n%+v", back, p)
	}
	var again bytes.Buffer
	if err := EncodePlan(&again, back); err != nil || again.String() != buf.String() {
		t.Errorf("round trip differs: %v", err)
	}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := SavePlan(path, p); err != nil {
		t.Fatal(err)
	}
	if loaded, err := LoadPlan(path); err != nil || !reflect.DeepEqual(loaded, p) {
		t.Errorf("LoadPlan(SavePlan) = %+v, %v", loaded, err)
	}
	for _, tt := range []struct{ name, from, to, want string }{
		{"version", `"format_version": "1"`, `"format_version": "9"`, "format_version \"9\", this imagesync reads \"1\": run \"imagesync plan --out\" again"},
		{"action", `"action": "create"`, `"action": "destroy"`, "unknown action"},
		{"kind", `"kind": "image"`, `"kind": ""`, "unknown kind"},
		{"reference", `"source": "quay.io/minio/minio:latest"`, `"source": "Not A Ref"`, "invalid image reference"},
		{"digest", `"digest": "sha256:`, `"digest": "md5:`, "unsupported digest algorithm"},
		{"summary", `"unchanged": 0`, `"unchanged": 3`, "summary does not match"},
		{"garbage", `{`, `[`, "not a saved plan"},
	} {
		broken := strings.Replace(buf.String(), tt.from, tt.to, 1)
		if broken == buf.String() {
			t.Fatalf("%s: %q not in plan", tt.name, tt.from)
		}
		if _, err := DecodePlan(strings.NewReader(broken)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestMakeBuilds(t *testing.T) {
	l := testLock()
	build := func(name, inputs string) lock.Build {
		return lock.Build{Ref: imageref.MustParse(name + ":v1"), Services: []string{name}, Target: imageref.MustParse("reg.example.com/aim/" + name + ":v1"), Inputs: dg(inputs)}
	}
	l.Builds = []lock.Build{build("api", "api-in"), build("web", "web-in-new"), build("worker", "worker-in"), build("legacy", "legacy-in")}
	l.Normalize()
	target := &fakeTarget{
		tags: map[string]digest.Digest{
			"reg.example.com/aim/web:v1": dg("web-img"), "reg.example.com/aim/worker:v1": dg("worker-img"), "reg.example.com/aim/legacy:v1": dg("legacy-img"),
		},
		labels: map[string]map[string]string{
			"reg.example.com/aim/web:v1":    {lock.InputsLabel: dg("web-in-old").String()},
			"reg.example.com/aim/worker:v1": {lock.InputsLabel: dg("worker-in").String()},
			// legacy was built elsewhere: no label, so it is rebuilt
		},
	}
	p, err := Make(context.Background(), l, dg("lock"), target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Change{}
	for _, c := range p.Changes {
		got[c.Source.String()] = c
	}
	if c := got["docker.io/library/api:v1"]; c.Kind != KindBuild || c.Action != Build || !slices.Equal(c.Services, []string{"api"}) {
		t.Errorf("api = %+v", c)
	}
	if c := got["docker.io/library/web:v1"]; c.Action != Rebuild || c.CurrentInputs != dg("web-in-old").String() || c.Inputs != dg("web-in-new") {
		t.Errorf("web = %+v", c)
	}
	if c := got["docker.io/library/worker:v1"]; c.Action != NoOp {
		t.Errorf("worker = %+v", c)
	}
	if c := got["docker.io/library/legacy:v1"]; c.Action != Rebuild || c.CurrentInputs != "" {
		t.Errorf("legacy = %+v", c)
	}
	if s := p.Summary; s.Build != 1 || s.Rebuild != 2 || s.Unchanged != 1 {
		t.Errorf("summary = %+v", s)
	}
	skipped, err := Make(context.Background(), l, dg("lock"), target, Options{SkipBuilds: true})
	if err != nil || skipped.Summary.Build+skipped.Summary.Rebuild != 0 || len(skipped.Changes) != len(l.Images) {
		t.Errorf("--skip-builds: %+v %v", skipped.Summary, err)
	}
}

package diff

import (
	"bytes"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
)

// TestAgainstLock plans testLock (with a build) against a base lock: one
// image unchanged, one at another digest, one new, one moved to another
// target; a build unchanged, one with other inputs, one new.
func TestAgainstLock(t *testing.T) {
	cur := testLock()
	build := func(ref, inputs string) lock.Build {
		r := imageref.MustParse(ref)
		return lock.Build{Ref: r, Services: []string{r.Path()}, Target: imageref.MustParse("reg.example.com/aim/" + r.Path() + ":v1"), Inputs: dg(inputs)}
	}
	cur.Builds = []lock.Build{build("api:v1", "api"), build("web:v1", "web-new"), build("worker:v1", "worker")}
	cur.Normalize()
	base := &lock.Lock{Images: []lock.Image{*cur.Image(imageref.MustParse("nginx:1.27-alpine")), *cur.Image(imageref.MustParse("redis:7-alpine")),
		*cur.Image(imageref.MustParse("quay.io/minio/minio:latest"))},
		Builds: []lock.Build{build("api:v1", "api"), build("web:v1", "web-old")}}
	base.Images[1].Digest = dg("redis-old")
	base.Images[2].Target = imageref.MustParse("reg.example.com/old/minio:latest")
	base.Normalize()

	nc := NotCompared{Reason: "authentication to reg.example.com failed", BaseLock: "base.lock"}
	p, err := AgainstLock(cur, dg("lock"), base, nc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Action{
		"docker.io/library/nginx:1.27-alpine": NoOp, "docker.io/library/redis:7-alpine": Update,
		"quay.io/minio/minio:latest": Create, "docker.io/library/alpine@" + dg("alpine").String(): Create,
		"docker.io/library/api:v1": NoOp, "docker.io/library/web:v1": Rebuild, "docker.io/library/worker:v1": Build,
	}
	for _, c := range p.Changes {
		if c.Action != want[c.Source.String()] {
			t.Errorf("%s: %s, want %s", c.Source, c.Action, want[c.Source.String()])
		}
		if c.Source.String() == "docker.io/library/redis:7-alpine" && (c.CurrentDigest != dg("redis-old") || c.Digest != dg("redis-new")) {
			t.Errorf("redis: %s -> %s", c.CurrentDigest, c.Digest)
		}
		if c.Source.String() == "docker.io/library/web:v1" && c.CurrentInputs != dg("web-old").String() {
			t.Errorf("web: current inputs %s", c.CurrentInputs)
		}
	}
	if len(p.Changes) != len(want) || p.Summary != (Summary{Create: 2, Update: 1, Build: 1, Rebuild: 1, Unchanged: 2}) {
		t.Errorf("%d changes, summary %+v", len(p.Changes), p.Summary)
	}
	if p.NotCompared == nil || *p.NotCompared != nc {
		t.Errorf("NotCompared %+v", p.NotCompared)
	}

	// The mark survives a saved plan, so that apply can refuse it.
	var buf bytes.Buffer
	if err := EncodePlan(&buf, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"target_not_compared": {`) || strings.Contains(buf.String(), `"preflight"`) {
		t.Errorf("JSON:\n%s", buf.String())
	}
	back, err := DecodePlan(&buf)
	if err != nil || back.NotCompared == nil || *back.NotCompared != nc {
		t.Errorf("decoded: %+v, %v", back, err)
	}

	// No change to the lock: nothing to do.
	same, err := AgainstLock(cur, dg("lock"), cur, nc, Options{SkipBuilds: true})
	if err != nil || same.Summary.HasChanges() || same.Summary.Unchanged != len(cur.Images) {
		t.Errorf("against itself: %+v, %v", same.Summary, err)
	}
}

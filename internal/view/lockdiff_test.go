package view

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
)

// loadTestLock parses a lock of testdata.
func loadTestLock(t *testing.T, name string) *lock.Lock {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	l, diags := lock.Parse(hclparse.NewParser(), name, src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return l
}

// cloneLock is a deep copy of l, through the lock's own codec, so that a
// test changes one lock of a pair only.
func cloneLock(t *testing.T, l *lock.Lock) *lock.Lock {
	t.Helper()
	c, diags := lock.Parse(hclparse.NewParser(), "clone.lock", lock.Format(l))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return c
}

func mustRef(t *testing.T, s string) imageref.Ref {
	t.Helper()
	r, err := imageref.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The changes of the lock pairs, each made to the model of a lock as
// `imagesync lock` would make it.
func moveDigest(t *testing.T, l *lock.Lock) {
	l.Image(mustRef(t, "docker.io/library/redis:7-alpine")).Digest = dg("redis-bumped")
}

func addImage(t *testing.T, l *lock.Lock) {
	l.Images = append(l.Images, lock.Image{Ref: mustRef(t, "docker.io/library/memcached:1.6"), Digest: dg("memcached"),
		MediaType: "application/vnd.oci.image.index.v1+json", Platforms: []string{"linux/amd64"},
		Target: mustRef(t, "reg.example.com/aim/memcached:1.6"), Sources: []string{"docker-compose.yml#services.cache.image"}})
	l.Normalize()
}

func removeBuild(t *testing.T, l *lock.Lock) {
	ref := mustRef(t, "docker.io/library/worker:v1")
	for i, b := range l.Builds {
		if b.Ref == ref {
			l.Builds = append(l.Builds[:i], l.Builds[i+1:]...)
			return
		}
	}
	t.Fatalf("no build %s", ref)
}

func changeInputs(t *testing.T, l *lock.Lock) {
	l.Build(mustRef(t, "docker.io/library/web:v1")).Inputs = dg("web-changed")
}

func retarget(t *testing.T, l *lock.Lock) {
	l.Image(mustRef(t, "quay.io/minio/minio:latest")).Target = mustRef(t, "reg.example.com/aim/minio:latest")
}

// TestLockDiffGolden renders diff.Locks of lock pairs made from the
// fixtures: one change each (text), every change at once and none (text,
// JSON, markdown).
func TestLockDiffGolden(t *testing.T) {
	type mutation func(*testing.T, *lock.Lock)
	withoutReferrers := func(t *testing.T, l *lock.Lock) {
		l.Image(mustRef(t, "docker.io/library/alpine:latest")).Referrers = nil
	}
	for _, tt := range []struct {
		name      string
		fixture   string
		old, next []mutation
		formats   bool
	}{
		{name: "lockdiff-moved-digest", fixture: "fixture.lock", next: []mutation{moveDigest}},
		{name: "lockdiff-added-image", fixture: "fixture.lock", next: []mutation{addImage}},
		{name: "lockdiff-removed-build", fixture: "fixture.lock", next: []mutation{removeBuild}},
		{name: "lockdiff-changed-inputs", fixture: "fixture.lock", next: []mutation{changeInputs}},
		{name: "lockdiff-referrers-added", fixture: "fixture-supply.lock", old: []mutation{withoutReferrers}},
		{name: "lockdiff-referrers-removed", fixture: "fixture-supply.lock", next: []mutation{withoutReferrers}},
		{name: "lockdiff-all", fixture: "fixture.lock", next: []mutation{moveDigest, addImage, removeBuild, changeInputs, retarget}, formats: true},
		{name: "lockdiff-none", fixture: "fixture.lock", formats: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := loadTestLock(t, tt.fixture)
			old, next := cloneLock(t, base), cloneLock(t, base)
			for _, m := range tt.old {
				m(t, old)
			}
			for _, m := range tt.next {
				m(t, next)
			}
			d, err := diff.Locks(old, next)
			if err != nil {
				t.Fatal(err)
			}
			ld := LockDiff{Old: "base.lock", New: "images.lock", Diff: d}
			var text bytes.Buffer
			if err := WriteLockDiff(&text, ld); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".txt", text.Bytes())
			if !tt.formats {
				return
			}
			var js, md bytes.Buffer
			if err := WriteLockDiffJSON(&js, ld); err != nil {
				t.Fatal(err)
			}
			if err := WriteLockDiffMarkdown(&md, ld); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".json", js.Bytes())
			golden(t, tt.name+".md", md.Bytes())
		})
	}
}

package diff

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

// fakeUpstream serves what source tags point at and counts the HEADs.
type fakeUpstream struct {
	mu    sync.Mutex
	tags  map[string]digest.Digest
	fail  map[string]error
	asked []string
}

func (f *fakeUpstream) Resolve(_ context.Context, ref imageref.Ref) (registry.Head, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, ref.String())
	if err := f.fail[ref.String()]; err != nil {
		return registry.Head{}, err
	}
	d, ok := f.tags[ref.String()]
	if !ok {
		return registry.Head{}, fmt.Errorf("HEAD %s: %w", ref, registry.ErrNotFound)
	}
	return registry.Head{Digest: d}, nil
}

// swappedLock is issue 19 case 6: app:1 locked at the digest of app:2,
// as a hand edit of the lock does; lock --check cannot tell.
func swappedLock() *lock.Lock {
	img := func(src, content string) lock.Image {
		return lock.Image{Ref: imageref.MustParse(src), Digest: dg(content), MediaType: "application/vnd.oci.image.manifest.v1+json",
			Target: imageref.MustParse("reg.example.com/aim/" + strings.TrimPrefix(imageref.MustParse(src).Path(), "library/") + ":" + imageref.MustParse(src).Tag())}
	}
	l := &lock.Lock{Images: []lock.Image{img("app:1", "app-2"), img("app:2", "app-2"), img("web:1", "web-1")}}
	pinned := dg("pinned")
	l.Images = append(l.Images, lock.Image{Ref: imageref.MustParse("pin@" + pinned.String()), Digest: pinned,
		Target: imageref.MustParse("reg.example.com/aim/pin@" + pinned.String())})
	l.Normalize()
	return l
}

func upstreamOfSwapped() *fakeUpstream {
	return &fakeUpstream{tags: map[string]digest.Digest{
		"docker.io/library/app:1": dg("app-1"), "docker.io/library/app:2": dg("app-2"), "docker.io/library/web:1": dg("web-1"),
	}}
}

// TestMakeUpstream: plan asks upstream about each image it creates or
// updates, once, and marks the swapped digest with both digests; an image
// in place, and one pinned by digest, are not asked.
func TestMakeUpstream(t *testing.T) {
	target := &fakeTarget{tags: map[string]digest.Digest{
		"reg.example.com/aim/app:2": dg("app-old"), // to update
		"reg.example.com/aim/web:1": dg("web-1"),   // in place
	}}
	up := upstreamOfSwapped()
	p, err := Make(context.Background(), swappedLock(), dg("lock"), target, Options{Upstream: up})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Change{}
	for _, c := range p.Changes {
		got[c.Source.String()] = c
	}
	app1, app2 := got["docker.io/library/app:1"], got["docker.io/library/app:2"]
	if !app1.Unusual() || app1.Upstream.Digest != dg("app-1") || app1.Digest != dg("app-2") {
		t.Errorf("app:1 = %+v, upstream %+v", app1, app1.Upstream)
	}
	if app2.Action != Update || app2.Unusual() || app2.Upstream == nil {
		t.Errorf("app:2 = %+v", app2)
	}
	if c := got["docker.io/library/web:1"]; c.Upstream != nil {
		t.Errorf("an image in place was asked upstream: %+v", c.Upstream)
	}
	if c := got["docker.io/library/pin@"+dg("pinned").String()]; c.Action != Create || c.Upstream != nil {
		t.Errorf("a pinned image: %+v", c)
	}
	if strings.Join(sortedCopy(up.asked), ",") != "docker.io/library/app:1,docker.io/library/app:2" {
		t.Errorf("asked upstream: %v", up.asked)
	}
	// Without a resolver, nothing goes upstream.
	up.asked = nil
	if p, err = Make(context.Background(), swappedLock(), dg("lock"), target, Options{}); err != nil || len(up.asked) > 0 || p.Changes[0].Upstream != nil {
		t.Errorf("plan without Upstream asked %v (%v)", up.asked, err)
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestUpstreamErrors: a tag gone upstream, or a registry that cannot be
// asked, is said, not fatal; the end of the run is.
func TestUpstreamErrors(t *testing.T) {
	up := upstreamOfSwapped()
	delete(up.tags, "docker.io/library/app:1")
	up.fail = map[string]error{"docker.io/library/app:2": errors.New("connection refused")}
	p, err := Make(context.Background(), swappedLock(), dg("lock"), &fakeTarget{tags: map[string]digest.Digest{}}, Options{Upstream: up})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Changes {
		switch c.Source.String() {
		case "docker.io/library/app:1":
			if !c.UpstreamUnchecked() || c.Upstream.Err != "the tag does not exist upstream any more" {
				t.Errorf("app:1 = %+v", c.Upstream)
			}
		case "docker.io/library/app:2":
			if !c.UpstreamUnchecked() || c.Upstream.Err != "connection refused" {
				t.Errorf("app:2 = %+v", c.Upstream)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := CheckLockUpstream(ctx, swappedLock(), up); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled check: %v", err)
	}
}

// TestCheckLockUpstream: lock --check --online asks every tag and lists
// the swapped digest; a plan against the base lock (a fork's pull
// request) marks it too.
func TestCheckLockUpstream(t *testing.T) {
	up := upstreamOfSwapped()
	found, err := CheckLockUpstream(context.Background(), swappedLock(), up)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Source.String() != "docker.io/library/app:1" || !found[0].Unusual() ||
		found[0].Locked != dg("app-2") || found[0].Upstream.Digest != dg("app-1") {
		t.Errorf("found = %+v", found)
	}
	if len(up.asked) != 3 {
		t.Errorf("asked %v, want the 3 tags", up.asked)
	}

	base := swappedLock()
	base.Images[0].Digest = dg("app-1")
	p, err := AgainstLock(swappedLock(), dg("lock"), base, NotCompared{BaseLock: "base.lock"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckUpstream(context.Background(), p, up); err != nil {
		t.Fatal(err)
	}
	if c := p.Changes[0]; c.Source.String() != "docker.io/library/app:1" || c.Action != Update || !c.Unusual() {
		t.Errorf("the base-lock plan's app:1 = %+v, upstream %+v", c, c.Upstream)
	}
}

// TestOtherHosts: a pending change whose target is on another host than
// target.registry's is listed; none without a target registry.
func TestOtherHosts(t *testing.T) {
	l := swappedLock()
	l.Images[2].Target = imageref.MustParse("ghcr.io/aim/web:1")
	p, err := Make(context.Background(), l, dg("lock"), &fakeTarget{tags: map[string]digest.Digest{}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.OtherHosts()) != 0 {
		t.Errorf("other hosts without a target registry: %v", p.OtherHosts())
	}
	p.TargetRegistry = "reg.example.com/aim"
	if got := p.OtherHosts(); len(got) != 1 || got[0].Target.String() != "ghcr.io/aim/web:1" || p.TargetHost() != "reg.example.com" {
		t.Errorf("other hosts = %v", got)
	}
}

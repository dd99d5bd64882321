package apply

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/build"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/dockerfile"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
)

// pushingBuilder stands in for buildah: it records the pins it was given
// and pushes a small image with the request's labels to its tag.
type pushingBuilder struct {
	t    *testing.T
	mu   sync.Mutex
	pins []map[string]string
}

func (b *pushingBuilder) Kind() build.Kind            { return build.Buildah }
func (b *pushingBuilder) Check(context.Context) error { return nil }

func (b *pushingBuilder) Build(_ context.Context, req build.Request) (digest.Digest, error) {
	b.mu.Lock()
	b.pins = append(b.pins, req.Pins)
	b.mu.Unlock()
	return digest.Digest(pushLabelled(b.t, req.Tag, req.Labels)), nil
}

// pushLabelled pushes a random image with labels to ref and returns its digest.
func pushLabelled(t *testing.T, ref string, labels map[string]string) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

// awaitRig is a build of "app" based on "base", a mirrored image or another
// build, which another part of the plan pushes.
type awaitRig struct {
	engine  *Engine
	builder *pushingBuilder
	env     BuildEnv
	job     BuildJob
	baseTag string   // where the other part pushes the base
	base    v1.Image // a mirrored base, as the other part pushes it
	dst     *recorder
}

// parked returns a channel closed once the target has answered a request
// for the base's repository from now on: the build asked for its base, did
// not find it (the other part has not pushed it), and waits to ask again.
func (r *awaitRig) parked() <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	r.dst.onServed(func(req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/v2/mirror/base/") {
			once.Do(func() { close(ch) })
		}
	})
	return ch
}

func newAwaitRig(t *testing.T, baseIsBuild bool, opts ...Option) *awaitRig {
	dst := newRecorder(t)
	mirror := dst.host() + "/mirror/"
	base := imageref.MustParse("base:1")
	baseTarget := imageref.MustParse(mirror + "base:1")
	app := lock.Build{Ref: imageref.MustParse("app:v1"), Services: []string{"app"}, Bases: []imageref.Ref{base},
		Target: imageref.MustParse(mirror + "app:v1"), Inputs: dg("app inputs")}
	l := &lock.Lock{Builds: []lock.Build{app}}
	elsewhere := diff.Change{Kind: diff.KindImage, Action: diff.Create, Source: base, Target: baseTarget, Shard: 2}
	var baseImage v1.Image
	if baseIsBuild {
		l.Builds = append(l.Builds, lock.Build{Ref: base, Services: []string{"base"}, Target: baseTarget, Inputs: dg("base inputs")})
		elsewhere = diff.Change{Kind: diff.KindBuild, Action: diff.Build, Source: base, Target: baseTarget, Inputs: dg("base inputs"), Shard: 2}
	} else {
		// The lock knows the base's digest before the other part pushes it.
		var err error
		if baseImage, err = random.Image(512, 1); err != nil {
			t.Fatal(err)
		}
		d, _ := baseImage.Digest()
		l.Images = []lock.Image{{Ref: base, Digest: digest.Digest(d.String()), Target: baseTarget}}
		elsewhere.Digest = digest.Digest(d.String())
	}
	l.Normalize()
	b := &pushingBuilder{t: t}
	return &awaitRig{
		engine:  engine(t, dst, dst, opts...),
		builder: b,
		env:     BuildEnv{Builder: b, Root: t.TempDir(), Lock: l, Elsewhere: map[imageref.Ref]diff.Change{base: elsewhere}},
		job: BuildJob{Change: diff.Change{Kind: diff.KindBuild, Action: diff.Build, Source: app.Ref, Target: app.Target, Inputs: app.Inputs, Services: app.Services},
			Build:  discover.Build{Ref: app.Ref, Services: app.Services, Inline: []byte("FROM base:1\n"), Scan: []dockerfile.Found{{Ref: base, Locator: "app#FROM 0"}}},
			Locked: app},
		baseTag: baseTarget.String(),
		base:    baseImage,
		dst:     dst,
	}
}

func dg(s string) digest.Digest { return digest.FromString(s) }

func TestBuildWaitsForImageOfAnotherPart(t *testing.T) {
	r := newAwaitRig(t, false)
	parked := r.parked()
	go func() {
		<-parked
		tag, _ := name.NewTag(r.baseTag, name.Insecure)
		if err := remote.Write(tag, r.base); err != nil {
			t.Error(err)
		}
	}()
	res := r.engine.Builds(context.Background(), r.env, []BuildJob{r.job})
	if len(res) != 1 || res[0].Err != nil {
		t.Fatalf("results = %+v", res)
	}
	want := strings.TrimSuffix(r.baseTag, ":1") + "@" + r.env.Elsewhere[imageref.MustParse("base:1")].Digest.String()
	if len(r.builder.pins) != 1 || r.builder.pins[0]["docker.io/library/base:1"] != want {
		t.Errorf("pins = %v, want base at %s", r.builder.pins, want)
	}
}

func TestBuildWaitsForBuildOfAnotherPart(t *testing.T) {
	r := newAwaitRig(t, true)
	// An image built from older inputs is there already: not the base.
	pushLabelled(t, r.baseTag, map[string]string{lock.InputsLabel: dg("old base inputs").String()})
	var pushed string
	done := make(chan struct{})
	parked := r.parked()
	go func() {
		defer close(done)
		<-parked
		pushed = pushLabelled(t, r.baseTag, map[string]string{lock.InputsLabel: dg("base inputs").String()})
	}()
	res := r.engine.Builds(context.Background(), r.env, []BuildJob{r.job})
	<-done
	if len(res) != 1 || res[0].Err != nil {
		t.Fatalf("results = %+v", res)
	}
	want := strings.TrimSuffix(r.baseTag, ":1") + "@" + pushed
	if len(r.builder.pins) != 1 || r.builder.pins[0]["docker.io/library/base:1"] != want {
		t.Errorf("pins = %v, want base at %s", r.builder.pins, want)
	}
}

func TestBuildGivesUpOnAnotherPart(t *testing.T) {
	for _, baseIsBuild := range []bool{false, true} {
		r := newAwaitRig(t, baseIsBuild, WithShardWait(time.Second))
		res := r.engine.Builds(context.Background(), r.env, []BuildJob{r.job})
		if len(res) != 1 || res[0].Err == nil {
			t.Fatalf("results = %+v", res)
		}
		msg := res[0].Err.Error()
		if !strings.Contains(msg, "base docker.io/library/base:1 is pushed by shard 2 of the plan, and the target registry did not hold ") ||
			!strings.Contains(msg, " within 1s: check that shard's run, then run this one again") {
			t.Errorf("base is a build %v: %v", baseIsBuild, msg)
		}
		if len(r.builder.pins) != 0 {
			t.Errorf("base is a build %v: built without its base: %v", baseIsBuild, r.builder.pins)
		}
	}
}

// Package diff compares images.lock, the desired state, with what the
// target registry holds, and produces a plan: typed actions, the lock's
// sha256 and what was observed on the target. The plan is data; rendering
// it is internal/view's job and carrying it out is internal/apply's.
package diff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/registry"
)

// Action is what apply will do to one target reference.
type Action string

const (
	// Create: the target reference does not exist.
	Create Action = "create"
	// Update: the target tag points at another digest.
	Update Action = "update"
	// NoOp: the target already points at the locked digest, or was built
	// from the locked inputs.
	NoOp Action = "no-op"
	// Build: the target of an image the repository builds is missing.
	Build Action = "build"
	// Rebuild: the target was built from other inputs, or records none.
	Rebuild Action = "rebuild"
	// Referrers: the image is in place, but signatures, attestations or
	// SBOMs locked with it are missing from the target.
	Referrers Action = "referrers"
)

// Kind tells a mirrored image from one the repository builds.
type Kind string

const (
	KindImage Kind = "image" // mirrored from upstream
	KindBuild Kind = "build" // built by the repository
)

// Change is the plan for one locked image or build.
type Change struct {
	Kind   Kind
	Action Action
	Source imageref.Ref // canonical reference, as in the lock
	Target imageref.Ref
	Digest digest.Digest // the locked digest; "" for a build
	// CurrentDigest is what the target reference pointed at when the plan
	// was made; "" when it did not exist.
	CurrentDigest digest.Digest
	MediaType     string
	Platforms     []string
	// Services, Inputs and CurrentInputs are set for builds: the compose
	// services that build the image (sorted; several when they share one
	// build definition), the locked inputs and the inputs label found on
	// the target image, as found ("" when absent).
	Services      []string
	Inputs        digest.Digest
	CurrentInputs string
	// Sources are the places the image was found (the lock's locators,
	// "docker-compose.yml#services.redis.image"), for reviewers; they are
	// not part of the saved plan.
	Sources []string

	// PlatformMode and MirroredPlatforms are the lock's platform choice
	// ("" and nil: every platform); FilteredDigest is the index apply
	// writes instead of Digest in filter mode ("" otherwise).
	PlatformMode      config.PlatformMode
	MirroredPlatforms []string
	FilteredDigest    digest.Digest
	// Referrers are the locked artifacts apply copies with the image: all
	// of them for a create or an update, the missing ones for Referrers.
	Referrers []referrers.Artifact

	// Shard is the part (1..Plan.Shards) of a partitioned plan the change
	// belongs to; 0 when the plan is not partitioned.
	Shard int
	// Manifests is the lock's count of the manifests apply reads for the
	// image (0: lock.Image.DefaultReads); not part of the saved plan.
	Manifests int
	// Upstream is what the source's tag pointed at upstream when `plan`
	// was made, for an image it creates or updates (Unusual); nil when
	// not asked (a reference pinned by digest, another action, apply's
	// own plan).
	Upstream *Upstream
}

// Reads is how many manifests apply reads from the source to copy the
// image, by lock.Image's one rule (referrers aside).
func (c Change) Reads() int {
	return lock.Image{MediaType: c.MediaType, Platforms: c.Platforms, MirroredPlatforms: c.MirroredPlatforms, Manifests: c.Manifests}.Reads()
}

// TargetDigest is what the target reference must resolve to once
// applied, by lock.Image's one rule.
func (c Change) TargetDigest() digest.Digest {
	return lock.Image{Digest: c.Digest, FilteredDigest: c.FilteredDigest}.TargetDigest()
}

// Summary counts the changes by action.
type Summary struct {
	Create    int
	Update    int
	Build     int
	Rebuild   int
	Unchanged int
	// Referrers counts the images in place whose locked referrers are
	// missing from the target.
	Referrers int
}

// HasChanges reports whether applying would change anything.
func (s Summary) HasChanges() bool { return s.Create+s.Update+s.Build+s.Rebuild+s.Referrers > 0 }

// Plan is the whole plan. EncodePlan writes its JSON form, which is what
// `plan --json` prints and `plan --out` saves.
type Plan struct {
	// LockSHA256 is the sha256 of the images.lock bytes the plan was made
	// from; apply refuses a saved plan when the lock changed since.
	LockSHA256 digest.Digest
	Changes    []Change // every locked image in scope, sorted by source
	Summary    Summary
	// NotCompared is set when the plan compares images.lock with another
	// lock instead of the target registry (AgainstLock).
	NotCompared *NotCompared
	// Preflight is what was found out about the target repositories and
	// source registries apply will use; nil when nothing was.
	Preflight *Preflight
	// Shards is how many parts the plan is split into for runners that
	// apply it side by side (Partition); 0 when it is not split. Shard,
	// when not 0, says that the plan is that one part (Part): Changes and
	// Summary are the part's, and Elsewhere holds the other parts'.
	Shards    int
	Shard     int
	Elsewhere []Change
	// TargetRegistry is images.hcl's target.registry, so that a change
	// writing to another host is shown as such (OtherHosts); "" when not
	// known.
	TargetRegistry string
}

// Observer is what planning needs from the target registry.
type Observer interface {
	// HeadTarget returns what a target reference points at, or an error
	// wrapping registry.ErrNotFound when it does not exist.
	HeadTarget(ctx context.Context, ref imageref.Ref) (registry.Head, error)
	// TargetLabels returns what a target reference points at and the
	// labels of its image config.
	TargetLabels(ctx context.Context, ref imageref.Ref) (registry.Head, map[string]string, error)
}

// Options control Make.
type Options struct {
	// Targets limits the plan to these references; each may name an
	// image's source or its target. Empty means every image.
	Targets []imageref.Ref
	// Jobs bounds the checks in flight; the registry client bounds each
	// host further. Default 32.
	Jobs int
	// SkipBuilds leaves the repository's own builds out of the plan, for
	// teams that build elsewhere.
	SkipBuilds bool
	// Upstream, when set, is asked what the tag of every image the plan
	// creates or updates points at now (one HEAD each, in the same
	// bounded fan-out as the target's), so that a reviewer sees a locked
	// digest the tag does not point at (Change.Unusual). Nil asks no
	// source registry anything.
	Upstream Resolver
	// Referrers is asked which locked referrers the target lacks, for
	// every image in place whose lock pins some; nil refuses to plan a
	// lock that pins referrers.
	Referrers referrers.Target
}

// Make plans the changes that bring the target registry to the lock. It
// sends one HEAD per image to the target registry: the lock is the
// desired state. With opts.Upstream, each image to create or update costs
// one HEAD of its tag upstream too, and nothing else goes to a source.
func Make(ctx context.Context, l *lock.Lock, lockSum digest.Digest, obs Observer, opts Options) (*Plan, error) {
	images, builds, err := selectEntries(l, opts.Targets)
	if err != nil {
		return nil, err
	}
	if opts.SkipBuilds {
		builds = nil
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 32
	}
	p := &Plan{LockSHA256: lockSum, Changes: make([]Change, len(images)+len(builds))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Jobs)
	for i, img := range images {
		g.Go(func() error {
			c, err := observe(gctx, obs, img)
			if err == nil && c.Action == NoOp {
				err = observeReferrers(gctx, opts.Referrers, img, &c)
			}
			if err == nil && opts.Upstream != nil && (c.Action == Create || c.Action == Update) {
				c.Upstream, err = askUpstream(gctx, opts.Upstream, img.Ref)
			}
			p.Changes[i] = c
			return err
		})
	}
	for i, b := range builds {
		g.Go(func() error {
			c, err := observeBuild(gctx, obs, b)
			p.Changes[len(images)+i] = c
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	p.Summary = summarize(p.Changes)
	return p, nil
}

// observeBuild compares the inputs recorded on a build's target image with
// the locked ones.
func observeBuild(ctx context.Context, obs Observer, b lock.Build) (Change, error) {
	c := Change{Kind: KindBuild, Source: b.Ref, Target: b.Target, Services: slices.Clone(b.Services), Inputs: b.Inputs}
	head, labels, err := obs.TargetLabels(ctx, b.Target)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		c.Action = Build
		return c, nil
	case err != nil:
		return Change{}, fmt.Errorf("check target %s of build %s: %w", b.Target, b.Ref, err)
	}
	c.CurrentDigest, c.CurrentInputs = head.Digest, labels[lock.InputsLabel]
	c.Action = Rebuild
	if c.CurrentInputs == c.Inputs.String() {
		c.Action = NoOp
	}
	return c, nil
}

// imageChange is the change of a locked image, its action not yet known.
func imageChange(img lock.Image) Change {
	return Change{Kind: KindImage, Source: img.Ref, Target: img.Target, Digest: img.Digest,
		MediaType: img.MediaType, Platforms: slices.Clone(img.Platforms), Sources: slices.Clone(img.Sources),
		PlatformMode: img.PlatformMode, MirroredPlatforms: slices.Clone(img.MirroredPlatforms),
		FilteredDigest: img.FilteredDigest, Referrers: slices.Clone(img.Referrers), Manifests: img.Manifests}
}

func observe(ctx context.Context, obs Observer, img lock.Image) (Change, error) {
	c := imageChange(img)
	head, err := obs.HeadTarget(ctx, img.Target)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		c.Action = Create
	case err != nil:
		return Change{}, fmt.Errorf("check target %s of %s: %w", img.Target, img.Ref, err)
	case head.Digest == img.TargetDigest():
		c.Action, c.CurrentDigest = NoOp, head.Digest
	default:
		c.Action, c.CurrentDigest = Update, head.Digest
	}
	return c, nil
}

// selectEntries returns the lock's images and builds in scope, refusing a
// --target that names nothing in the lock (a typo must not plan "no
// changes").
func selectEntries(l *lock.Lock, targets []imageref.Ref) ([]lock.Image, []lock.Build, error) {
	if len(targets) == 0 {
		return l.Images, l.Builds, nil
	}
	var images []lock.Image
	var builds []lock.Build
	for _, t := range targets {
		found := false
		for _, img := range l.Images {
			if img.Ref == t || img.Target == t {
				images, found = append(images, img), true
			}
		}
		for _, b := range l.Builds {
			if b.Ref == t || b.Target == t {
				builds, found = append(builds, b), true
			}
		}
		if !found {
			return nil, nil, fmt.Errorf("--target %s: no image of images.lock has that source or target", t)
		}
	}
	sort.Slice(images, func(i, j int) bool { return imageref.Less(images[i].Ref, images[j].Ref) })
	sort.Slice(builds, func(i, j int) bool { return imageref.Less(builds[i].Ref, builds[j].Ref) })
	images = slices.CompactFunc(images, func(a, b lock.Image) bool { return a.Ref == b.Ref })
	builds = slices.CompactFunc(builds, func(a, b lock.Build) bool { return a.Ref == b.Ref })
	return images, builds, nil
}

func summarize(changes []Change) Summary {
	var s Summary
	for _, c := range changes {
		switch c.Action {
		case Create:
			s.Create++
		case Update:
			s.Update++
		case Build:
			s.Build++
		case Rebuild:
			s.Rebuild++
		case Referrers:
			s.Referrers++
		default:
			s.Unchanged++
		}
	}
	return s
}

// Pending returns the changes apply acts on, in plan order.
func (p *Plan) Pending() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Action != NoOp {
			out = append(out, c)
		}
	}
	return out
}

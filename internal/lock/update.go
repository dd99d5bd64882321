package lock

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/registry"
)

// Resolver is what updating a lock needs from registries.
type Resolver interface {
	// Resolve returns the digest a reference points at (HEAD only).
	Resolve(ctx context.Context, ref imageref.Ref) (registry.Head, error)
	// Platforms fetches the manifest a Head names and lists its platforms.
	Platforms(ctx context.Context, head registry.Head) ([]string, error)
}

// UpdateOptions control Update.
type UpdateOptions struct {
	// Upgrade re-resolves locked tags instead of keeping their digests.
	Upgrade bool
	// UpgradeOnly limits Upgrade to these references; empty means all.
	UpgradeOnly []imageref.Ref
	// Jobs bounds the resolutions in flight; the registry client bounds
	// each host further. Default 16.
	Jobs int
	// Supply chooses platforms and finds referrers; nil pins no
	// referrers (and refuses a platform choice for an index).
	Supply Supply
}

// ChangeKind says how an entry of the lock changed.
type ChangeKind int

const (
	Added    ChangeKind = iota // in the new lock only
	Removed                    // in the old lock only
	Upgraded                   // digest (image) or inputs (build) changed
	Moved                      // target or sources changed
)

// Change is one difference between two locks.
type Change struct {
	Kind   ChangeKind
	Build  bool // a build entry rather than an image
	Ref    imageref.Ref
	Detail string // what changed, for Upgraded and Moved
}

// String renders a change as one line: "+ ref", "- ref", "~ ref: detail".
func (c Change) String() string {
	kind := "image"
	if c.Build {
		kind = "build"
	}
	switch c.Kind {
	case Added:
		if c.Detail != "" {
			return fmt.Sprintf("+ %s %s %s", kind, c.Ref, c.Detail)
		}
		return fmt.Sprintf("+ %s %s", kind, c.Ref)
	case Removed:
		return fmt.Sprintf("- %s %s", kind, c.Ref)
	default:
		return fmt.Sprintf("~ %s %s: %s", kind, c.Ref, c.Detail)
	}
}

// ResolveError lists every image that could not be resolved.
type ResolveError struct {
	Failures []ResolveFailure
}

// ResolveFailure is one image that could not be resolved, with the places
// it was found, so that the user knows which line to fix.
type ResolveFailure struct {
	Ref     imageref.Ref
	Sources []string
	Err     error
}

func (e *ResolveError) Error() string {
	var b strings.Builder
	if len(e.Failures) == 1 {
		b.WriteString("1 image could not be resolved:")
	} else {
		fmt.Fprintf(&b, "%d images could not be resolved:", len(e.Failures))
	}
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "\n  %s (from %s): %v", f.Ref, strings.Join(f.Sources, ", "), f.Err)
	}
	return b.String()
}

// Update computes the new lock: locked digests are kept unless upgraded,
// new references are resolved, references no longer found are dropped. It
// returns the new lock and what changed since old (which may be nil). When
// an image cannot be resolved it returns a *ResolveError naming all of
// them, and no lock.
func Update(ctx context.Context, cfg *config.Config, found *discover.Result, old *Lock, r Resolver, opts UpdateOptions) (*Lock, []Change, error) {
	if old == nil {
		old = &Lock{}
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 16
	}
	d, err := want(cfg, found)
	if err != nil {
		return nil, nil, err
	}
	upgrade := func(ref imageref.Ref) bool {
		if !opts.Upgrade || ref.IsPinned() {
			return false
		}
		if len(opts.UpgradeOnly) == 0 {
			return true
		}
		for _, u := range opts.UpgradeOnly {
			if u == ref {
				return true
			}
		}
		return false
	}

	next := &Lock{Images: d.images, Builds: d.builds}
	var mu sync.Mutex
	var failures []ResolveFailure
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Jobs)
	for i := range next.Images {
		img := &next.Images[i]
		prev := old.Image(img.Ref)
		choice, policy := cfg.PlatformsFor(img.Ref), cfg.ReferrersFor(img.Ref)
		// --upgrade asks again for referrers, even of a pinned reference:
		// signatures are often added after an image is published.
		reask := opts.Upgrade && opts.Supply != nil && policy.Enabled &&
			(len(opts.UpgradeOnly) == 0 || slices.Contains(opts.UpgradeOnly, img.Ref))
		kept := prev != nil && !upgrade(img.Ref)
		sameChoice := false
		if kept {
			img.Digest, img.MediaType, img.Platforms = prev.Digest, prev.MediaType, prev.Platforms
			if sameChoice = keepSupply(img, prev, choice, policy); sameChoice && !reask {
				continue
			}
		}
		g.Go(func() error {
			var err error
			if kept {
				err = repinSupply(gctx, r, opts.Supply, img, choice, policy, sameChoice)
			} else {
				err = resolveImage(gctx, r, img, prev, opts.Supply, choice, policy)
			}
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				mu.Lock()
				failures = append(failures, ResolveFailure{Ref: img.Ref, Sources: img.Sources, Err: err})
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	if len(failures) > 0 {
		sort.Slice(failures, func(i, j int) bool { return imageref.Less(failures[i].Ref, failures[j].Ref) })
		return nil, nil, &ResolveError{Failures: failures}
	}
	next.Normalize()
	if err := fillInputs(next, d.fingerprints); err != nil {
		return nil, nil, err
	}
	return next, Diff(old, next), nil
}

// repinSupply pins the platform choice and referrers of an image whose
// digest stays: lock --upgrade asks again, or images.hcl chose other
// platforms. The digest is resolved again by digest, for the endpoint.
func repinSupply(ctx context.Context, r Resolver, s Supply, img *Image, choice config.PlatformChoice, policy config.ReferrersPolicy, sameChoice bool) error {
	head, err := r.Resolve(ctx, img.Ref.WithDigest(img.Digest))
	if err != nil {
		return err
	}
	return pinSupply(ctx, s, img, head, nil, choice, policy, sameChoice)
}

func resolveImage(ctx context.Context, r Resolver, img *Image, prev *Image, s Supply, choice config.PlatformChoice, policy config.ReferrersPolicy) error {
	head, err := r.Resolve(ctx, img.Ref)
	if err != nil {
		var unwrapped error = err
		if errors.Is(err, registry.ErrNotFound) {
			unwrapped = fmt.Errorf("no such image: %w", err)
		}
		return unwrapped
	}
	img.Digest, img.MediaType = head.Digest, head.MediaType
	var root *registry.Manifest
	countKnown := false
	switch {
	case prev != nil && prev.Digest == head.Digest:
		// The manifest is the same: no need to fetch it, unless for what
		// images.hcl chooses now.
		img.Platforms, img.Manifests = prev.Platforms, prev.Manifests
		countKnown = prev.PlatformMode == choice.Mode && slices.Equal(prev.MirroredPlatforms, choice.Platforms)
	case s != nil && types.MediaType(head.MediaType).IsIndex():
		// The index is read once, for its platforms and what is pinned with it.
		if root, err = s.Manifest(ctx, head); err != nil {
			return err
		}
		img.Platforms = registry.IndexPlatforms(root.Entries)
	default:
		if img.Platforms, err = r.Platforms(ctx, head); err != nil {
			return err
		}
	}
	return pinSupply(ctx, s, img, head, root, choice, policy, countKnown)
}

// Diff lists what changed from old to next, sorted by reference, images
// before builds.
func Diff(old, next *Lock) []Change {
	var changes []Change
	for _, img := range next.Images {
		prev := old.Image(img.Ref)
		switch {
		case prev == nil:
			changes = append(changes, Change{Kind: Added, Ref: img.Ref, Detail: imageref.ShortDigest(img.Digest) + withReferrers(img)})
		case prev.Digest != img.Digest:
			changes = append(changes, Change{Kind: Upgraded, Ref: img.Ref,
				Detail: fmt.Sprintf("digest %s -> %s", imageref.ShortDigest(prev.Digest), imageref.ShortDigest(img.Digest)) + withReferrers(img)})
		default:
			detail := movedDetail(prev.Target, img.Target, prev.Sources, img.Sources)
			if supply := supplyDetail(prev, &img); supply != "" {
				detail = strings.TrimPrefix(detail+"; "+supply, "; ")
			}
			if detail != "" {
				changes = append(changes, Change{Kind: Moved, Ref: img.Ref, Detail: detail})
			}
		}
	}
	for _, img := range old.Images {
		if next.Image(img.Ref) == nil {
			changes = append(changes, Change{Kind: Removed, Ref: img.Ref})
		}
	}
	for _, b := range next.Builds {
		prev := old.Build(b.Ref)
		switch {
		case prev == nil:
			changes = append(changes, Change{Kind: Added, Build: true, Ref: b.Ref})
		case prev.Inputs != b.Inputs:
			changes = append(changes, Change{Kind: Upgraded, Build: true, Ref: b.Ref,
				Detail: fmt.Sprintf("inputs %s -> %s", imageref.ShortDigest(prev.Inputs), imageref.ShortDigest(b.Inputs))})
		default:
			if detail := buildDetail(prev, &b); detail != "" {
				changes = append(changes, Change{Kind: Moved, Build: true, Ref: b.Ref, Detail: detail})
			}
		}
	}
	for _, b := range old.Builds {
		if next.Build(b.Ref) == nil {
			changes = append(changes, Change{Kind: Removed, Build: true, Ref: b.Ref})
		}
	}
	sort.SliceStable(changes, func(i, j int) bool {
		if changes[i].Build != changes[j].Build {
			return !changes[i].Build
		}
		return imageref.Less(changes[i].Ref, changes[j].Ref)
	})
	return changes
}

func movedDetail(oldTarget, newTarget imageref.Ref, oldSources, newSources []string) string {
	var parts []string
	if oldTarget != newTarget {
		parts = append(parts, fmt.Sprintf("target %s -> %s", oldTarget, newTarget))
	}
	if strings.Join(oldSources, "\n") != strings.Join(newSources, "\n") {
		parts = append(parts, fmt.Sprintf("sources [%s] -> [%s]", strings.Join(oldSources, ", "), strings.Join(newSources, ", ")))
	}
	return strings.Join(parts, "; ")
}

func buildDetail(prev, b *Build) string {
	var parts []string
	add := func(field, old, new string) {
		if old != new {
			parts = append(parts, fmt.Sprintf("%s %q -> %q", field, old, new))
		}
	}
	add("services", strings.Join(prev.Services, ", "), strings.Join(b.Services, ", "))
	add("context", prev.Context, b.Context)
	add("dockerfile", prev.Dockerfile, b.Dockerfile)
	add("target_stage", prev.TargetStage, b.TargetStage)
	add("target", prev.Target.String(), b.Target.String())
	add("bases", refsString(prev.Bases), refsString(b.Bases))
	return strings.Join(parts, "; ")
}

func refsString(refs []imageref.Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

// Check compares a lock with what the config and files call for, without
// any network I/O, and lists every difference: references missing from
// the lock or no longer used, moved targets or sources, changed build
// inputs. An empty list means the lock is up to date.
func Check(cfg *config.Config, found *discover.Result, locked *Lock) ([]Change, error) {
	d, err := want(cfg, found)
	if err != nil {
		return nil, err
	}
	expected := &Lock{Images: d.images, Builds: d.builds}
	for i := range expected.Images {
		img := &expected.Images[i]
		if prev := locked.Image(img.Ref); prev != nil {
			img.Digest, img.MediaType, img.Platforms = prev.Digest, prev.MediaType, prev.Platforms
			keepSupply(img, prev, cfg.PlatformsFor(img.Ref), cfg.ReferrersFor(img.Ref))
		}
	}
	expected.Normalize()
	if err := fillInputs(expected, d.fingerprints); err != nil {
		return nil, err
	}
	// Diff(locked, expected): "+" is what the lock lacks, "-" what it has
	// in excess.
	return Diff(locked, expected), nil
}

// Package resolve computes images.lock: what images.hcl and the
// repository's files call for (desired.go), each new or upgraded reference
// resolved to a digest against its registries, and each image's mirror
// scope (scope.go: which platforms and which referrers are mirrored with
// its digest) pinned, in a bounded fan-out. It is kept apart from
// internal/lock, which holds the lock's model, its codec and the file
// lock, as Terraform keeps getproviders apart from depsfile: reading and
// writing a lock never needs a registry.
package resolve

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
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

// Registry is what updating a lock needs from registries
// (registry.Client has it).
type Registry interface {
	// Resolve returns the digest a reference points at (HEAD only).
	Resolve(ctx context.Context, ref imageref.Ref) (registry.Head, error)
	// Platforms fetches the manifest a Head names and lists its platforms.
	Platforms(ctx context.Context, head registry.Head) ([]string, error)
}

// Options control Update.
type Options struct {
	// Upgrade re-resolves locked tags instead of keeping their digests.
	Upgrade bool
	// UpgradeOnly limits Upgrade to these references; empty means all.
	UpgradeOnly []imageref.Ref
	// Jobs bounds the resolutions in flight; the registry client bounds
	// each host further. Default 16.
	Jobs int
	// Scope reads what an image's mirror scope is chosen from: its
	// index and the referrers of its digests; nil pins no referrers (and
	// refuses a platform choice for an index).
	Scope ScopeReader
}

// resolveError lists every image that could not be resolved.
type resolveError struct {
	failures []failure
}

// failure is one image that could not be resolved, with the places
// it was found, so that the user knows which line to fix.
type failure struct {
	ref     imageref.Ref
	sources []string
	err     error
}

func (e *resolveError) Error() string {
	var b strings.Builder
	if len(e.failures) == 1 {
		b.WriteString("1 image could not be resolved:")
	} else {
		fmt.Fprintf(&b, "%d images could not be resolved:", len(e.failures))
	}
	for _, f := range e.failures {
		fmt.Fprintf(&b, "\n  %s (from %s): %v", f.ref, strings.Join(f.sources, ", "), f.err)
	}
	return b.String()
}

// Update computes the new lock: locked digests are kept unless upgraded,
// new references are resolved, references no longer found are dropped. It
// returns the new lock and what changed since old (which may be nil). When
// an image cannot be resolved it returns an error naming all of them, and
// no lock.
func Update(ctx context.Context, cfg *config.Config, found *discover.Result, old *lock.Lock, r Registry, opts Options) (*lock.Lock, []lock.Change, error) {
	if old == nil {
		old = &lock.Lock{}
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

	next := &lock.Lock{Images: d.images, Builds: d.builds}
	var mu sync.Mutex
	var failures []failure
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Jobs)
	for i := range next.Images {
		img := &next.Images[i]
		prev := old.Image(img.Ref)
		choice, policy := cfg.PlatformsFor(img.Ref), cfg.ReferrersFor(img.Ref)
		// --upgrade asks again for referrers, even of a pinned reference:
		// signatures are often added after an image is published.
		reask := opts.Upgrade && opts.Scope != nil && policy.Enabled &&
			(len(opts.UpgradeOnly) == 0 || slices.Contains(opts.UpgradeOnly, img.Ref))
		kept := prev != nil && !upgrade(img.Ref)
		sameChoice := false
		if kept {
			img.Digest, img.MediaType, img.Platforms = prev.Digest, prev.MediaType, prev.Platforms
			if sameChoice = keepScope(img, prev, choice, policy); sameChoice && !reask {
				continue
			}
		}
		g.Go(func() error {
			var err error
			if kept {
				err = repinScope(gctx, r, opts.Scope, img, choice, policy, sameChoice)
			} else {
				err = resolveImage(gctx, r, img, prev, opts.Scope, choice, policy)
			}
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				mu.Lock()
				failures = append(failures, failure{ref: img.Ref, sources: img.Sources, err: err})
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	if len(failures) > 0 {
		sort.Slice(failures, func(i, j int) bool { return imageref.Less(failures[i].ref, failures[j].ref) })
		return nil, nil, &resolveError{failures: failures}
	}
	next.Normalize()
	if err := fillInputs(next, d.fingerprints); err != nil {
		return nil, nil, err
	}
	return next, lock.Diff(old, next), nil
}

// repinScope pins the mirror scope (platform choice and referrers) of an image whose
// digest stays: lock --upgrade asks again, or images.hcl chose other
// platforms. The digest is resolved again by digest, for the endpoint.
func repinScope(ctx context.Context, r Registry, s ScopeReader, img *lock.Image, choice config.PlatformChoice, policy config.ReferrersPolicy, sameChoice bool) error {
	head, err := r.Resolve(ctx, img.Ref.WithDigest(img.Digest))
	if err != nil {
		return err
	}
	return pinScope(ctx, s, img, head, nil, choice, policy, sameChoice)
}

func resolveImage(ctx context.Context, r Registry, img, prev *lock.Image, s ScopeReader, choice config.PlatformChoice, policy config.ReferrersPolicy) error {
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
	return pinScope(ctx, s, img, head, root, choice, policy, countKnown)
}

// Package verify checks, without changing anything, that the target
// registry holds what images.lock pins: every target reference at its
// locked digest, the locked referrers, and, when deep, every manifest and
// blob below them. It reads the lock as plan does but makes no plan: its
// outcome is a list of problems for `imagesync verify`, not actions.
package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/platformfilter"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/registry"
)

// Problem is one way the target registry differs from the lock.
type Problem struct {
	Source imageref.Ref
	Target imageref.Ref
	Detail string
}

// Report is the outcome of Check.
type Report struct {
	Deep     bool      // every manifest and blob was checked
	Images   int       // how many locked images were checked
	Problems []Problem // sorted by target, then detail
}

// Auditor is what Check needs from the target registry.
type Auditor interface {
	// HeadTarget returns what a target reference points at, or an error
	// wrapping registry.ErrNotFound when it does not exist.
	HeadTarget(ctx context.Context, ref imageref.Ref) (registry.Head, error)
	// TargetTree reads the manifest tree d names in ref's target
	// repository, recording the children it cannot read.
	TargetTree(ctx context.Context, ref imageref.Ref, d digest.Digest) (*registry.Manifest, error)
	// TargetHasBlob reports whether ref's target repository holds blob d.
	TargetHasBlob(ctx context.Context, ref imageref.Ref, d digest.Digest) (bool, error)
}

// Options control Check.
type Options struct {
	// Deep checks every child manifest and blob as well as the top
	// reference.
	Deep bool
	// Referrers is asked which locked referrers the target lacks, for
	// every image whose lock pins some; nil refuses to check a lock that
	// pins referrers.
	Referrers referrers.Target
}

// verifyAtOnce bounds the images verified at once: a HEAD each, and with
// --deep the whole manifest tree read and every blob asked for (dozens of
// requests an image), so half the 32 of a HEAD-only fan-out; the registry
// client bounds each host further.
const verifyAtOnce = 16

// Check checks, without changing anything, that every locked image's
// target reference resolves to its locked digest and, when deep, that
// every child manifest and blob it needs is present. An error means the
// check itself could not be made.
func Check(ctx context.Context, l *lock.Lock, a Auditor, opts Options) (*Report, error) {
	var mu sync.Mutex
	rep := &Report{Deep: opts.Deep, Images: len(l.Images), Problems: []Problem{}}
	report := func(img lock.Image, format string, args ...any) {
		mu.Lock()
		rep.Problems = append(rep.Problems, Problem{Source: img.Ref, Target: img.Target, Detail: fmt.Sprintf(format, args...)})
		mu.Unlock()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(verifyAtOnce)
	for _, img := range l.Images {
		g.Go(func() error {
			head, err := a.HeadTarget(gctx, img.Target)
			switch {
			case errors.Is(err, registry.ErrNotFound):
				report(img, "missing")
				return nil
			case err != nil:
				return fmt.Errorf("verify %s: %w", img.Target, err)
			case head.Digest != img.TargetDigest():
				report(img, "points at %s, not the locked %s", head.Digest, img.TargetDigest())
				return nil
			}
			problems, err := auditReferrers(gctx, a, opts.Referrers, img, opts.Deep)
			if err != nil {
				return err
			}
			for _, p := range problems {
				report(img, "%s", p)
			}
			if opts.Deep {
				for _, missing := range walk(gctx, a, img) {
					report(img, "%s", missing)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	slices.SortFunc(rep.Problems, func(a, b Problem) int {
		if c := imageref.Compare(a.Target, b.Target); c != 0 {
			return c
		}
		return strings.Compare(a.Detail, b.Detail)
	})
	return rep, nil
}

// walk reads the image's manifest tree and everything below it, returning
// what is missing or broken.
func walk(ctx context.Context, a Auditor, img lock.Image) []string {
	return walkTree(ctx, a, img, img.TargetDigest())
}

// walkTree checks the manifest tree d names in img's target repository:
// every manifest meant to be mirrored (a sparse index's left-out children
// are not) and every blob below them.
func walkTree(ctx context.Context, a Auditor, img lock.Image, d digest.Digest) []string {
	tree, err := a.TargetTree(ctx, img.Target, d)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	meant, err := mirroredChildren(img, tree)
	if err != nil {
		return []string{err.Error()}
	}
	tree.Walk(func(m *registry.Manifest) {
		if !meant(m) {
			return
		}
		if m.Err != nil {
			out = append(out, fmt.Sprintf("manifest %s: %v", m.Digest, m.Err))
		}
		for _, b := range m.Blobs {
			if !b.MediaType.IsDistributable() {
				continue
			}
			ok, err := a.TargetHasBlob(ctx, img.Target, digest.Digest(b.Digest.String()))
			switch {
			case err != nil:
				out = append(out, fmt.Sprintf("blob %s of manifest %s: %v", b.Digest, m.Digest, err))
			case !ok:
				out = append(out, fmt.Sprintf("blob %s of manifest %s is missing", b.Digest, m.Digest))
			}
		}
	})
	return out
}

// auditReferrers lists what verify finds wrong with an image's referrers:
// missing ones and, when deep, their manifests' missing blobs.
func auditReferrers(ctx context.Context, a Auditor, t referrers.Target, img lock.Image, deep bool) ([]string, error) {
	if len(img.Referrers) == 0 {
		return nil, nil
	}
	if t == nil {
		return nil, fmt.Errorf("check referrers of %s: the target registry cannot be asked for them", img.Ref)
	}
	missing, err := referrers.Missing(ctx, t, img.Target, img.Referrers)
	if err != nil {
		return nil, err
	}
	var out []string
	gone := map[digest.Digest]bool{}
	for _, m := range missing {
		gone[m.Digest] = true
		out = append(out, describe(m)+" is missing")
	}
	if deep {
		for _, r := range img.Referrers {
			if !gone[r.Digest] {
				out = append(out, walkTree(ctx, a, img, r.Digest)...)
			}
		}
	}
	return out, nil
}

// describe names an artifact in a problem: "signature sha256:... of
// sha256:..." or "signature sha256:... (tag sha256-....sig)".
func describe(a referrers.Artifact) string {
	if a.Via == referrers.ViaTag {
		return fmt.Sprintf("%s %s (tag %s)", a.Kind, imageref.ShortDigest(a.Digest), a.Tag)
	}
	return fmt.Sprintf("%s %s of %s", a.Kind, imageref.ShortDigest(a.Digest), imageref.ShortDigest(a.Subject))
}

// mirroredChildren tells the manifests of tree meant to be in the target:
// every one, except a sparse index's children of platforms not chosen.
func mirroredChildren(img lock.Image, tree *registry.Manifest) (func(*registry.Manifest) bool, error) {
	if img.PlatformMode != config.PlatformSparse || !tree.IsIndex() || tree.Digest != img.TargetDigest() {
		return func(*registry.Manifest) bool { return true }, nil
	}
	sel, err := platformfilter.Select(tree.Entries, img.MirroredPlatforms)
	if err != nil {
		return nil, err
	}
	return func(m *registry.Manifest) bool { return m == tree || sel.Keeps(m.Descriptor) }, nil
}

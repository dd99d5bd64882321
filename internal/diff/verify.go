package diff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

// Problem is one way the target registry differs from the lock.
type Problem struct {
	Source imageref.Ref
	Target imageref.Ref
	Detail string
}

// Report is the outcome of Verify.
type Report struct {
	Deep     bool      // every manifest and blob was checked
	Images   int       // how many locked images were checked
	Problems []Problem // sorted by target, then detail
}

// Auditor is what Verify needs from the target registry.
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

// VerifyOptions control Verify.
type VerifyOptions struct {
	// Deep checks every child manifest and blob as well as the top
	// reference.
	Deep bool
}

// verifyAtOnce bounds the images verified at once: a HEAD each, and with
// --deep the whole manifest tree read and every blob asked for (dozens of
// requests an image), so half the 32 of a HEAD-only fan-out; the registry
// client bounds each host further.
const verifyAtOnce = 16

// Verify checks, without changing anything, that every locked image's
// target reference resolves to its locked digest and, when deep, that
// every child manifest and blob it needs is present. An error means the
// check itself could not be made.
func Verify(ctx context.Context, l *lock.Lock, a Auditor, opts VerifyOptions) (*Report, error) {
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
			problems, err := auditReferrers(gctx, a, img, opts.Deep)
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

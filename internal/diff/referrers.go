package diff

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/platformfilter"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/registry"
)

// ReferrerObserver is what checking an image's referrers needs from the
// target registry (registry.Client has it). Make and Verify ask for it of
// their Observer or Auditor only for images whose lock pins referrers, so
// that every other use stays as it was.
type ReferrerObserver interface {
	// TargetReferrers lists what ref's target repository holds as
	// attached to subject (referrers API, else the fallback tag's index).
	TargetReferrers(ctx context.Context, ref imageref.Ref, subject digest.Digest) (registry.ReferrerList, error)
	// TargetHasManifest returns the digest a tag or digest names in ref's
	// target repository, or an error wrapping registry.ErrNotFound.
	TargetHasManifest(ctx context.Context, ref imageref.Ref, tagOrDigest string) (digest.Digest, error)
}

// observeReferrers turns an image in place into a Referrers change when
// some of its locked referrers are missing from the target, and leaves
// none to copy otherwise.
func observeReferrers(ctx context.Context, obs any, img lock.Image, c *Change) error {
	c.Referrers = nil
	if len(img.Referrers) == 0 {
		return nil
	}
	missing, err := missingReferrers(ctx, obs, img)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		c.Action, c.Referrers = Referrers, missing
	}
	return nil
}

// missingReferrers lists the locked referrers of img that the target does
// not hold as locked: a referrer its subject's listing lacks, a cosign
// tag missing or pointing elsewhere. One listing per subject, one HEAD per
// tag.
func missingReferrers(ctx context.Context, obs any, img lock.Image) ([]referrers.Artifact, error) {
	ro, ok := obs.(ReferrerObserver)
	if !ok {
		return nil, fmt.Errorf("check referrers of %s: the target registry cannot be asked for them", img.Ref)
	}
	listed := map[digest.Digest]map[digest.Digest]bool{} // subject -> listed referrers
	var missing []referrers.Artifact
	for _, a := range img.Referrers {
		if a.Via == referrers.ViaTag {
			d, err := ro.TargetHasManifest(ctx, img.Target, a.Tag)
			switch {
			case errors.Is(err, registry.ErrNotFound):
			case err != nil:
				return nil, fmt.Errorf("check referrer %s of %s: %w", a.Tag, img.Target, err)
			}
			if d != a.Digest {
				missing = append(missing, a)
			}
			continue
		}
		if listed[a.Subject] == nil {
			list, err := ro.TargetReferrers(ctx, img.Target, a.Subject)
			if err != nil {
				return nil, fmt.Errorf("check referrers of %s@%s: %w", img.Target.WithoutDigest(), a.Subject, err)
			}
			listed[a.Subject] = map[digest.Digest]bool{}
			for _, d := range list.Descriptors {
				listed[a.Subject][digest.Digest(d.Digest.String())] = true
			}
		}
		if !listed[a.Subject][a.Digest] {
			missing = append(missing, a)
		}
	}
	return missing, nil
}

// WrittenTags are the tags apply writes for the change in its target's
// repository: the target's own tag for an image to create or update and
// for a build, then its referrers' (referrers.WrittenTags); fallback are
// the fallback tags of the subjects of OCI referrers, written only on a
// registry without the referrers API. None for a change apply leaves
// alone.
func (c Change) WrittenTags() (tags, fallback []string) {
	if c.Action == NoOp {
		return nil, nil
	}
	if c.Action != Referrers && c.Target.Tag() != "" {
		tags = append(tags, c.Target.Tag())
	}
	for _, w := range referrers.WrittenTags(c.Referrers) {
		if w.Fallback {
			fallback = append(fallback, w.Tag)
		} else {
			tags = append(tags, w.Tag)
		}
	}
	return tags, fallback
}

// describe names an artifact in a problem: "signature sha256:... of
// sha256:..." or "signature tag sha256-....sig".
func describe(a referrers.Artifact) string {
	if a.Via == referrers.ViaTag {
		return fmt.Sprintf("%s %s (tag %s)", a.Kind, imageref.ShortDigest(a.Digest), a.Tag)
	}
	return fmt.Sprintf("%s %s of %s", a.Kind, imageref.ShortDigest(a.Digest), imageref.ShortDigest(a.Subject))
}

// auditReferrers lists what verify finds wrong with an image's referrers:
// missing ones and, when deep, their manifests' missing blobs.
func auditReferrers(ctx context.Context, a Auditor, img lock.Image, deep bool) ([]string, error) {
	if len(img.Referrers) == 0 {
		return nil, nil
	}
	missing, err := missingReferrers(ctx, a, img)
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

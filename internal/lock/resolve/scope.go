package resolve

import (
	"context"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/platformfilter"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/registry"
)

// ScopeReader reads what an image's mirror scope is chosen from: its
// index and the artifacts attached to the digests mirrored
// (referrers.Finder has it).
type ScopeReader interface {
	// Manifest reads the manifest head names, an index without its
	// children, from the endpoint that resolved it.
	Manifest(ctx context.Context, head registry.Head) (*registry.Manifest, error)
	// Find lists the artifacts attached to each subject in ep's
	// repository.
	// lim bounds what they list (images.hcl's referrers block).
	Find(ctx context.Context, ep registry.Endpoint, subjects []digest.Digest, lim referrers.Limits) ([]referrers.Artifact, error)
}

// keepScope gives img, whose digest is prev's, prev's mirror scope
// (platform choice and referrers) without asking any registry, when images.hcl still chooses the
// same platforms; referrers the policy no longer allows are dropped. It
// reports false when the platform choice changed, which needs the index.
func keepScope(img, prev *lock.Image, choice config.PlatformChoice, policy config.ReferrersPolicy) bool {
	img.Referrers = allowed(prev.Referrers, policy)
	img.Manifests = prev.Manifests
	if prev.PlatformMode != choice.Mode || !slices.Equal(prev.MirroredPlatforms, choice.Platforms) {
		img.PlatformMode, img.MirroredPlatforms, img.FilteredDigest = choice.Mode, choice.Platforms, prev.FilteredDigest
		return false
	}
	img.PlatformMode, img.MirroredPlatforms, img.FilteredDigest = prev.PlatformMode, prev.MirroredPlatforms, prev.FilteredDigest
	return true
}

func allowed(arts []referrers.Artifact, policy config.ReferrersPolicy) []referrers.Artifact {
	var out []referrers.Artifact
	for _, a := range arts {
		if policy.Allows(a.ArtifactType) {
			out = append(out, a)
		}
	}
	return out
}

// pinScope pins the image's mirror scope: it chooses its platforms and
// pins what is attached to
// every digest that is mirrored: the index (unless filtered, as upstream
// signatures on it do not cover the new index) and each child kept. A
// platform upstream does not have is an error. root is the index, read
// with its nested indexes (registry.WithIndexesOnly), when it was read
// already, else nil; countKnown says img.Manifests holds the count for
// this choice already (kept from the lock), so that the index need not be
// read for it.
func pinScope(ctx context.Context, s ScopeReader, img *lock.Image, head registry.Head, root *registry.Manifest,
	choice config.PlatformChoice, policy config.ReferrersPolicy, countKnown bool) error {
	img.PlatformMode, img.MirroredPlatforms, img.FilteredDigest, img.Referrers = choice.Mode, choice.Platforms, "", nil
	subjects := []digest.Digest{img.Digest}
	isIndex := types.MediaType(img.MediaType).IsIndex()
	switch {
	case isIndex && s == nil && choice.Platforms != nil:
		return fmt.Errorf("choosing platforms needs the index, and no registry was given")
	case isIndex && s != nil && (root != nil || policy.Enabled || choice.Platforms != nil || !countKnown):
		m := root
		if m == nil {
			var err error
			if m, err = s.Manifest(ctx, head); err != nil {
				return err
			}
		}
		kept, keep, err := choosePlatforms(img, m, choice)
		if err != nil {
			return err
		}
		if choice.Mode == config.PlatformFilter && choice.Platforms != nil {
			subjects = nil
		}
		img.Manifests = countReads(img, m, keep)
		seen := map[digest.Digest]bool{img.Digest: true}
		for _, e := range kept {
			if d := digest.Digest(e.Digest.String()); !seen[d] {
				seen[d] = true
				subjects = append(subjects, d)
			}
		}
	case !isIndex && choice.Platforms != nil:
		// A single-platform image is mirrored whole, if it is of a
		// chosen platform.
		var own []v1.Descriptor
		for _, p := range img.Platforms {
			pl, err := v1.ParsePlatform(p)
			if err != nil {
				return err
			}
			own = append(own, v1.Descriptor{Platform: pl})
		}
		if _, err := selectPlatforms(own, choice.Platforms, img.Platforms); err != nil {
			return err
		}
	}
	if !policy.Enabled || s == nil {
		return nil
	}
	arts, err := s.Find(ctx, head.Endpoint, subjects, referrers.Limits{PerSubject: policy.MaxPerSubject, PerImage: policy.MaxPerImage})
	if err != nil {
		return err
	}
	img.Referrers = allowed(arts, policy)
	return nil
}

// choosePlatforms is the entries of index m that are mirrored and the
// child filter apply reads them with: every entry, or those of the chosen
// platforms (the filtered index's digest set in img in filter mode).
func choosePlatforms(img *lock.Image, m *registry.Manifest, choice config.PlatformChoice) ([]v1.Descriptor, func(v1.Descriptor) bool, error) {
	if choice.Platforms == nil {
		return m.Entries, func(v1.Descriptor) bool { return true }, nil
	}
	sel, err := selectPlatforms(m.Entries, choice.Platforms, img.Platforms)
	if err != nil {
		return nil, nil, err
	}
	if choice.Mode == config.PlatformFilter {
		if img.Target.IsDigestOnly() {
			return nil, nil, fmt.Errorf("its target %s names the upstream digest, which a filtered index cannot have: give it a tag or use platform_mode = \"sparse\"", img.Target)
		}
		if _, img.FilteredDigest, err = platformfilter.Filter(m.Data, sel.Keeps); err != nil {
			return nil, nil, fmt.Errorf("filter index %s: %w", img.Digest, err)
		}
	}
	return sel.Kept, sel.Keeps, nil
}

// countReads is the image's Manifests: how many manifests apply reads
// with keep, 0 when that is DefaultReads.
func countReads(img *lock.Image, m *registry.Manifest, keep func(v1.Descriptor) bool) int {
	img.Manifests = 0
	if n := m.Reads(keep); n != img.DefaultReads() {
		return n
	}
	return 0
}

// selectPlatforms chooses the entries of the wanted platforms, refusing a
// platform upstream does not have.
func selectPlatforms(entries []v1.Descriptor, want, has []string) (platformfilter.Selection, error) {
	sel, err := platformfilter.Select(entries, want)
	if err != nil {
		return sel, err
	}
	if len(sel.Missing) > 0 {
		return sel, fmt.Errorf("upstream has no %s image (it has %s); change platforms in images.hcl",
			strings.Join(sel.Missing, ", "), strings.Join(has, ", "))
	}
	return sel, nil
}

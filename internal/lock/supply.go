package lock

import (
	"context"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/platformfilter"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/registry"
)

// Supply is what locking needs to choose platforms and pin referrers
// (referrers.Finder has it).
type Supply interface {
	// Manifest reads the manifest head names, an index without its
	// children, from the endpoint that resolved it.
	Manifest(ctx context.Context, head registry.Head) (*registry.Manifest, error)
	// Find lists the artifacts attached to each subject in ep's
	// repository.
	// lim bounds what they list (images.hcl's referrers block).
	Find(ctx context.Context, ep registry.Endpoint, subjects []digest.Digest, lim referrers.Limits) ([]referrers.Artifact, error)
}

// keepSupply gives img, whose digest is prev's, prev's platform choice and
// referrers without asking any registry, when images.hcl still chooses the
// same platforms; referrers the policy no longer allows are dropped. It
// reports false when the platform choice changed, which needs the index.
func keepSupply(img, prev *Image, choice config.PlatformChoice, policy config.ReferrersPolicy) bool {
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

// pinSupply chooses the image's platforms and pins what is attached to
// every digest that is mirrored: the index (unless filtered, as upstream
// signatures on it do not cover the new index) and each child kept. A
// platform upstream does not have is an error. root is the index, read
// with its nested indexes (registry.WithIndexesOnly), when it was read
// already, else nil; countKnown says img.Manifests holds the count for
// this choice already (kept from the lock), so that the index need not be
// read for it.
func pinSupply(ctx context.Context, s Supply, img *Image, head registry.Head, root *registry.Manifest,
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
func choosePlatforms(img *Image, m *registry.Manifest, choice config.PlatformChoice) ([]v1.Descriptor, func(v1.Descriptor) bool, error) {
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
func countReads(img *Image, m *registry.Manifest, keep func(v1.Descriptor) bool) int {
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

// withReferrers is " (+2 signatures, +1 SBOM)" for an image with
// referrers, "" otherwise.
func withReferrers(img Image) string {
	if len(img.Referrers) == 0 {
		return ""
	}
	return " (" + referrers.Summary(img.Referrers) + ")"
}

// supplyDetail says how an image's platform choice and referrers changed,
// "" when they did not.
func supplyDetail(prev, img *Image) string {
	var parts []string
	if before, after := choiceString(prev), choiceString(img); before != after {
		parts = append(parts, fmt.Sprintf("platforms %s -> %s", before, after))
	}
	if prev.FilteredDigest != img.FilteredDigest && prev.PlatformMode == img.PlatformMode {
		parts = append(parts, fmt.Sprintf("target_digest %s -> %s", orNone(prev.FilteredDigest), orNone(img.FilteredDigest)))
	}
	added, removed := artifactChanges(prev.Referrers, img.Referrers)
	if len(added)+len(removed) > 0 {
		parts = append(parts, "referrers "+strings.TrimSpace(referrers.Summary(added)+" "+strings.ReplaceAll(referrers.Summary(removed), "+", "-")))
	}
	return strings.Join(parts, "; ")
}

func choiceString(img *Image) string {
	if img.PlatformMode == "" {
		return "all"
	}
	return fmt.Sprintf("%s (%s)", strings.Join(img.MirroredPlatforms, ", "), img.PlatformMode)
}

func orNone(d digest.Digest) string {
	if d == "" {
		return "none"
	}
	return imageref.ShortDigest(d)
}

// artifactChanges lists the artifacts only in next (added) and only in
// prev (removed).
func artifactChanges(prev, next []referrers.Artifact) (added, removed []referrers.Artifact) {
	in := func(list []referrers.Artifact, a referrers.Artifact) bool { return slices.Contains(list, a) }
	for _, a := range next {
		if !in(prev, a) {
			added = append(added, a)
		}
	}
	for _, a := range prev {
		if !in(next, a) {
			removed = append(removed, a)
		}
	}
	return added, removed
}

package referrers

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/registry"
)

// Target is what checking pinned artifacts needs from the target registry
// (registry.Client has it): plan asks it for the images in place whose
// lock pins referrers, verify for every such image.
type Target interface {
	// TargetReferrers lists what ref's target repository holds as
	// attached to subject (referrers API, else the fallback tag's index).
	TargetReferrers(ctx context.Context, ref imageref.Ref, subject digest.Digest) (registry.ReferrerList, error)
	// TargetHasManifest returns the digest a tag or digest names in ref's
	// target repository, or an error wrapping registry.ErrNotFound.
	TargetHasManifest(ctx context.Context, ref imageref.Ref, tagOrDigest string) (digest.Digest, error)
}

// Missing lists the pinned artifacts that the target repository of ref
// does not hold as pinned: an OCI referrer its subject's listing lacks, a
// cosign tag missing or pointing elsewhere. One listing per subject, one
// HEAD per tag.
func Missing(ctx context.Context, t Target, ref imageref.Ref, pinned []Artifact) ([]Artifact, error) {
	listed := map[digest.Digest]map[digest.Digest]bool{} // subject -> listed referrers
	var missing []Artifact
	for _, a := range pinned {
		if a.Via == ViaTag {
			d, err := t.TargetHasManifest(ctx, ref, a.Tag)
			switch {
			case errors.Is(err, registry.ErrNotFound):
			case err != nil:
				return nil, fmt.Errorf("check referrer %s of %s: %w", a.Tag, ref, err)
			}
			if d != a.Digest {
				missing = append(missing, a)
			}
			continue
		}
		if listed[a.Subject] == nil {
			list, err := t.TargetReferrers(ctx, ref, a.Subject)
			if err != nil {
				return nil, fmt.Errorf("check referrers of %s@%s: %w", ref.WithoutDigest(), a.Subject, err)
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

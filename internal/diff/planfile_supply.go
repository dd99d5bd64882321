package diff

import (
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/referrers"
)

// referrerJSON is a locked referrer in the plan's JSON form, with the
// lock's attribute names.
type referrerJSON struct {
	Digest       string         `json:"digest"`
	ArtifactType string         `json:"artifact_type"`
	Kind         referrers.Kind `json:"kind"`
	Subject      string         `json:"subject"`
	Via          referrers.Via  `json:"via"`
	Tag          string         `json:"tag,omitempty"`
}

// encodeSupply writes a change's platform choice and referrers.
func encodeSupply(cj *changeJSON, c Change) {
	cj.PlatformMode, cj.MirroredPlatforms = c.PlatformMode, c.MirroredPlatforms
	if c.FilteredDigest != "" {
		cj.TargetDigest = c.FilteredDigest.String()
	}
	for _, a := range c.Referrers {
		cj.Referrers = append(cj.Referrers, referrerJSON{Digest: a.Digest.String(), ArtifactType: a.ArtifactType, Kind: a.Kind,
			Subject: a.Subject.String(), Via: a.Via, Tag: a.Tag})
	}
}

// decodeSupply reads them back, refusing digests that are not digests and
// referrers that cannot be copied.
func (cj changeJSON) decodeSupply(c *Change) error {
	c.PlatformMode, c.MirroredPlatforms = cj.PlatformMode, cj.MirroredPlatforms
	if cj.TargetDigest != "" {
		d, err := digest.Parse(cj.TargetDigest)
		if err != nil {
			return fmt.Errorf("target_digest: %w", err)
		}
		c.FilteredDigest = d
	}
	for _, r := range cj.Referrers {
		a := referrers.Artifact{ArtifactType: r.ArtifactType, Kind: r.Kind, Via: r.Via, Tag: r.Tag}
		var err error
		if a.Digest, err = digest.Parse(r.Digest); err != nil {
			return fmt.Errorf("referrer: %w", err)
		}
		if a.Subject, err = digest.Parse(r.Subject); err != nil {
			return fmt.Errorf("referrer %s subject: %w", a.Digest, err)
		}
		if err := referrers.CheckTag(a); err != nil {
			return fmt.Errorf("referrer %s: %w", a.Digest, err)
		}
		c.Referrers = append(c.Referrers, a)
	}
	return nil
}

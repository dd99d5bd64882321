package diff

import (
	"fmt"
	"slices"

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

// encodeScope writes a change's mirror scope: its platform choice and
// referrers.
func encodeScope(cj *changeJSON, c Change) {
	cj.PlatformMode, cj.MirroredPlatforms = c.PlatformMode, c.MirroredPlatforms
	if c.FilteredDigest != "" {
		cj.TargetDigest = c.FilteredDigest.String()
	}
	for _, a := range c.Referrers {
		cj.Referrers = append(cj.Referrers, referrerJSON{Digest: a.Digest.String(), ArtifactType: a.ArtifactType, Kind: a.Kind,
			Subject: a.Subject.String(), Via: a.Via, Tag: a.Tag})
	}
}

// decodeScope reads them back, refusing digests that are not digests and
// referrers that cannot be copied.
func (cj changeJSON) decodeScope(c *Change) error {
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

// encodeReview writes what a change tells its reviewer beyond what apply
// reads: what upstream said of its tag and every tag apply writes.
func encodeReview(cj *changeJSON, c Change) {
	if up := c.Upstream; up != nil {
		cj.Upstream = &upstreamJSON{Digest: up.Digest.String(), Unusual: c.Unusual(), Error: up.Err}
	}
	cj.Tags, cj.FallbackTags = c.WrittenTags()
}

// decodeReview reads them back; the tags (when listed: a plan of an
// earlier imagesync has none) and the unusual mark must be what the
// change implies, so that a plan file shows nothing apply does not do.
func (cj changeJSON) decodeReview(c *Change) error {
	if u := cj.Upstream; u != nil {
		c.Upstream = &Upstream{Err: u.Error}
		if u.Digest != "" {
			d, err := digest.Parse(u.Digest)
			if err != nil {
				return fmt.Errorf("upstream: %w", err)
			}
			c.Upstream.Digest = d
		}
		if u.Unusual != c.Unusual() {
			return fmt.Errorf("upstream: unusual is %v, its digests say %v", u.Unusual, c.Unusual())
		}
	}
	if cj.Tags == nil && cj.FallbackTags == nil {
		return nil // a plan written before the tags were listed
	}
	tags, fallback := c.WrittenTags()
	if !slices.Equal(cj.Tags, tags) || !slices.Equal(cj.FallbackTags, fallback) {
		return fmt.Errorf("tags %v and fallback_tags %v are not those apply writes (%v, %v)", cj.Tags, cj.FallbackTags, tags, fallback)
	}
	return nil
}

// otherHostTargets are the targets of p.OtherHosts, for the plan file.
func otherHostTargets(p *Plan) []string {
	var out []string
	for _, c := range p.OtherHosts() {
		out = append(out, c.Target.String())
	}
	return out
}

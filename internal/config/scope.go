package config

import (
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/imagesync/imagesync/internal/imageref"
)

// An image's mirror scope is what is mirrored with its digest: which of
// its platforms (PlatformChoice) and which of the artifacts attached to it
// (ReferrersPolicy). This file holds what images.hcl says of it; the lock
// pins it (internal/lock/resolve) and apply copies it.

// PlatformMode says how an index is mirrored when only some of its
// platforms are.
type PlatformMode string

const (
	// PlatformFilter pushes the chosen children and a new index that lists
	// only them: a new digest, accepted by every registry. The default.
	PlatformFilter PlatformMode = "filter"
	// PlatformSparse pushes the chosen children and the original index
	// bytes: the digest and every signature on it are kept, but most
	// registries refuse an index whose children are missing.
	PlatformSparse PlatformMode = "sparse"
)

// Referrers is a referrers block as written, at the top level or in an
// image block; a nil field was not set and is inherited (the top level
// inherits the defaults: enabled, every artifact type).
type Referrers struct {
	Enabled       *bool
	ArtifactTypes []string // nil: not set
	// MaxPerSubject and MaxPerImage bound what is pinned (nil: not set).
	MaxPerSubject *int
	MaxPerImage   *int
	Range         hcl.Range
}

// Defaults of the referrers block's limits.
const (
	// DefaultReferrersPerSubject is max_per_subject's default: the
	// artifacts a registry may list for one manifest (an image's index or
	// one of its children), counted as listed, before artifact_types.
	DefaultReferrersPerSubject = 64
	// DefaultReferrersPerImage is max_per_image's default: the artifacts
	// listed for the manifests of one image, together.
	DefaultReferrersPerImage = 256
)

// ReferrersPolicy is what is copied with one image: whether its
// signatures, attestations, SBOMs and other referrers are, and which
// artifact types (nil: every type).
type ReferrersPolicy struct {
	Enabled       bool
	ArtifactTypes []string
	// MaxPerSubject and MaxPerImage bound the artifacts a registry may
	// list for one manifest of the image, and for all of them; beyond,
	// lock fails naming the registry (DefaultReferrersPerSubject,
	// DefaultReferrersPerImage).
	MaxPerSubject int
	MaxPerImage   int
}

// Allows reports whether an artifact of this type is copied.
func (p ReferrersPolicy) Allows(artifactType string) bool {
	return p.Enabled && (p.ArtifactTypes == nil || slices.Contains(p.ArtifactTypes, artifactType))
}

// PlatformChoice is which platforms of an image are mirrored and how.
type PlatformChoice struct {
	// Platforms are "os/arch[/variant]", sorted; nil means every platform.
	Platforms []string
	// Mode is set when Platforms is.
	Mode PlatformMode
}

// ReferrersFor is the referrers policy of an image: its image block's
// referrers block over the top-level one over the defaults (enabled, every
// artifact type), attribute by attribute.
func (c *Config) ReferrersFor(ref imageref.Ref) ReferrersPolicy {
	p := ReferrersPolicy{Enabled: true, MaxPerSubject: DefaultReferrersPerSubject, MaxPerImage: DefaultReferrersPerImage}
	blocks := []*Referrers{c.Referrers}
	if img := c.ImageBlock(ref); img != nil {
		blocks = append(blocks, img.Referrers)
	}
	for _, b := range blocks {
		if b == nil {
			continue
		}
		if b.Enabled != nil {
			p.Enabled = *b.Enabled
		}
		if b.ArtifactTypes != nil {
			p.ArtifactTypes = b.ArtifactTypes
		}
		if b.MaxPerSubject != nil {
			p.MaxPerSubject = *b.MaxPerSubject
		}
		if b.MaxPerImage != nil {
			p.MaxPerImage = *b.MaxPerImage
		}
	}
	return p
}

// PlatformsFor is the platform choice of an image: its image block's
// platforms and platform_mode over the target block's. An image block's
// empty list means every platform.
func (c *Config) PlatformsFor(ref imageref.Ref) PlatformChoice {
	platforms, mode := c.Target.Platforms, c.Target.PlatformMode
	if img := c.ImageBlock(ref); img != nil {
		if img.Platforms != nil {
			platforms = img.Platforms
		}
		if img.PlatformMode != "" {
			mode = img.PlatformMode
		}
	}
	if len(platforms) == 0 {
		return PlatformChoice{}
	}
	if mode == "" {
		mode = PlatformFilter
	}
	return PlatformChoice{Platforms: slices.Compact(slices.Sorted(slices.Values(platforms))), Mode: mode}
}

var referrersSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "enabled"}, {Name: "artifact_types"}, {Name: "max_per_subject"}, {Name: "max_per_image"}},
}

// referrersBlocks decodes the referrers blocks of a body (one at most).
func (d *decoder) referrersBlocks(blocks hcl.Blocks) *Referrers {
	var out *Referrers
	for _, block := range blocks {
		if block.Type != "referrers" {
			continue
		}
		if out != nil {
			d.errorf(&block.DefRange, "Duplicate referrers block",
				"Only one referrers block is allowed here; the first one is at %s.", out.Range)
			continue
		}
		out = d.referrers(block)
	}
	return out
}

func (d *decoder) referrers(block *hcl.Block) *Referrers {
	r := &Referrers{Range: block.DefRange}
	content, diags := block.Body.Content(referrersSchema)
	d.diags = append(d.diags, diags...)
	if attr, ok := content.Attributes["enabled"]; ok {
		var enabled bool
		if d.decode(attr, &enabled) {
			r.Enabled = &enabled
		}
	}
	r.MaxPerSubject = d.referrersLimit(content.Attributes["max_per_subject"])
	r.MaxPerImage = d.referrersLimit(content.Attributes["max_per_image"])
	if attr, ok := content.Attributes["artifact_types"]; ok {
		var types []string
		if d.decode(attr, &types) {
			r.ArtifactTypes = []string{}
			for _, t := range types {
				if !strings.Contains(t, "/") || strings.TrimSpace(t) != t {
					d.errorf(attr.Expr.Range().Ptr(), "Invalid artifact type",
						`%q is not a media type such as "application/vnd.dev.sigstore.bundle.v0.3+json".`, t)
					continue
				}
				r.ArtifactTypes = append(r.ArtifactTypes, t)
			}
		}
	}
	return r
}

// referrersLimit decodes max_per_subject or max_per_image: a whole number
// of 1 or more; nil when not set.
func (d *decoder) referrersLimit(attr *hcl.Attribute) *int {
	if attr == nil {
		return nil
	}
	var n int
	if !d.decode(attr, &n) {
		return nil
	}
	if n < 1 {
		d.errorf(attr.Expr.Range().Ptr(), "Invalid referrers limit", "%s must be 1 or more (set enabled = false to copy no referrers), not %d.", attr.Name, n)
		return nil
	}
	return &n
}

// platformChoice decodes the platforms and platform_mode attributes of a
// target or image block. platforms is nil when not set, empty when set to
// [].
func (d *decoder) platformChoice(attrs hcl.Attributes) ([]string, PlatformMode) {
	var platforms []string
	if attr, ok := attrs["platforms"]; ok && d.decode(attr, &platforms) {
		if platforms == nil {
			platforms = []string{}
		}
		for _, p := range platforms {
			if err := validatePlatform(p); err != nil {
				d.errorf(attr.Expr.Range().Ptr(), "Invalid platform", "%s", err)
			}
		}
	}
	var mode PlatformMode
	if attr, ok := attrs["platform_mode"]; ok {
		var s string
		if d.decode(attr, &s) {
			switch PlatformMode(s) {
			case PlatformFilter, PlatformSparse:
				mode = PlatformMode(s)
			default:
				d.errorf(attr.Expr.Range().Ptr(), "Invalid platform mode",
					`platform_mode must be "filter" (a new index listing only the chosen platforms, new digest) or "sparse" (the original index, same digest; many registries refuse it), not %q.`, s)
			}
		}
	}
	return platforms, mode
}

// checkPlatformModes refuses a platform_mode that chooses between ways of
// mirroring a subset of platforms when no subset is chosen.
func (d *decoder) checkPlatformModes(targetModeRange hcl.Range) {
	if d.cfg.Target.PlatformMode != "" && len(d.cfg.Target.Platforms) == 0 {
		d.errorf(&targetModeRange, "platform_mode without platforms",
			"platform_mode decides how a subset of platforms is mirrored; set platforms too, e.g. platforms = [\"linux/amd64\"].")
	}
	for _, img := range d.cfg.Images {
		if img.PlatformMode != "" && len(d.cfg.PlatformsFor(img.Ref).Platforms) == 0 {
			d.errorf(&img.Range, "platform_mode without platforms",
				"The image block of %s sets platform_mode, but neither it nor the target block chooses platforms.", img.Ref)
		}
	}
}

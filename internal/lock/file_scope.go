package lock

import (
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/opencontainers/go-digest"
	"github.com/zclconf/go-cty/cty"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/referrers"
)

var referrerSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "artifact_type", Required: true}, {Name: "kind", Required: true}, {Name: "subject", Required: true},
	{Name: "via", Required: true}, {Name: "tag"},
}}

// imageScope decodes what an image block holds beyond its digest, its
// mirror scope: the platform choice and the pinned referrers.
func (d *decoder) imageScope(content *hcl.BodyContent, img *Image) {
	a := content.Attributes
	if attr, ok := a["platform_mode"]; ok {
		switch mode := config.PlatformMode(d.string(a, "platform_mode")); mode {
		case config.PlatformFilter, config.PlatformSparse:
			img.PlatformMode = mode
		default:
			d.errorf(attr.Expr.Range(), "Invalid platform_mode in lockfile", `%q: want "filter" or "sparse".`, mode)
		}
	}
	img.MirroredPlatforms = d.strings(a, "mirrored_platforms")
	img.FilteredDigest = d.digest(a, "target_digest")
	if attr, ok := a["target_digest"]; ok && img.PlatformMode != config.PlatformFilter {
		d.errorf(attr.NameRange, "Unexpected target_digest in lockfile", "Only an image mirrored with platform_mode = \"filter\" has a target_digest.")
	}
	if (img.PlatformMode == "") != (len(img.MirroredPlatforms) == 0) {
		d.errorf(content.MissingItemRange, "Incomplete platform choice in lockfile", "An image has both platform_mode and mirrored_platforms, or neither.")
	}
	for _, block := range content.Blocks {
		if art, ok := d.referrer(block); ok {
			img.Referrers = append(img.Referrers, art)
		}
	}
}

func (d *decoder) referrer(block *hcl.Block) (referrers.Artifact, bool) {
	before := len(d.diags.Errs())
	content, diags := block.Body.Content(referrerSchema)
	d.diags = append(d.diags, diags...)
	a := content.Attributes
	art := referrers.Artifact{ArtifactType: d.string(a, "artifact_type"), Kind: referrers.Kind(d.string(a, "kind")),
		Subject: d.digest(a, "subject"), Via: referrers.Via(d.string(a, "via")), Tag: d.string(a, "tag")}
	dg := digest.Digest(block.Labels[0])
	if err := dg.Validate(); err != nil || dg.Algorithm() != digest.SHA256 {
		d.errorf(block.LabelRanges[0], "Invalid digest in lockfile", "%q is not a sha256 digest.", block.Labels[0])
	}
	art.Digest = dg
	if attr, ok := a["kind"]; ok && !knownKind(art.Kind) {
		d.errorf(attr.Expr.Range(), "Invalid referrer kind in lockfile", "%q: want signature, attestation, sbom or artifact.", art.Kind)
	}
	switch attr, hasTag := a["tag"]; {
	case art.Via == referrers.ViaTag && art.Tag == "":
		d.errorf(block.DefRange, "Missing tag in lockfile", "A referrer found through a cosign tag (via = \"tag\") names the tag.")
	case art.Via == referrers.ViaReferrers && hasTag:
		d.errorf(attr.NameRange, "Unexpected tag in lockfile", "Only a referrer found through a cosign tag (via = \"tag\") has a tag.")
	case art.Via != referrers.ViaTag && art.Via != referrers.ViaReferrers && a["via"] != nil:
		d.errorf(a["via"].Expr.Range(), "Invalid via in lockfile", "%q: want \"referrers\" or \"tag\".", art.Via)
	case art.Via == referrers.ViaTag && hasTag && art.Subject.Validate() == nil && knownKind(art.Kind):
		// Apply writes this tag into the image's repository: a lock,
		// which a pull request can edit, may name only the tag the
		// scheme implies for the subject, never any tag (or a path).
		if err := referrers.CheckTag(art); err != nil {
			d.errorf(attr.Expr.Range(), "Invalid referrer tag in lockfile", "%v.", err)
		}
	}
	return art, len(d.diags.Errs()) == before
}

func knownKind(k referrers.Kind) bool { return slices.Contains(referrers.Kinds, k) }

// formatScope writes the mirror scope (platform choice and referrers) of
// an image block; an image with neither is written as locks always were.
func formatScope(b *hclwrite.Body, img *Image) {
	if img.PlatformMode != "" {
		b.SetAttributeValue("platform_mode", cty.StringVal(string(img.PlatformMode)))
		b.SetAttributeRaw("mirrored_platforms", listTokens(img.MirroredPlatforms))
	}
	if img.FilteredDigest != "" {
		b.SetAttributeValue("target_digest", cty.StringVal(img.FilteredDigest.String()))
	}
	for _, r := range img.Referrers {
		b.AppendNewline()
		rb := b.AppendNewBlock("referrer", []string{r.Digest.String()}).Body()
		rb.SetAttributeValue("artifact_type", cty.StringVal(r.ArtifactType))
		rb.SetAttributeValue("kind", cty.StringVal(string(r.Kind)))
		rb.SetAttributeValue("subject", cty.StringVal(r.Subject.String()))
		rb.SetAttributeValue("via", cty.StringVal(string(r.Via)))
		if r.Tag != "" {
			rb.SetAttributeValue("tag", cty.StringVal(r.Tag))
		}
	}
}

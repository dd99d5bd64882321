package view

import (
	"fmt"
	"strings"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/referrers"
)

// supplyDetail is what a plan line adds for an image mirrored with a
// platform choice or with referrers: " [linux/amd64 of sha256:..., filter]
// (+2 signatures, +1 SBOM)"; "" for an image with neither, whose line is
// as it always was.
func supplyDetail(c diff.Change) string {
	var b strings.Builder
	switch c.PlatformMode {
	case "":
	case config.PlatformFilter:
		fmt.Fprintf(&b, " [%s of %s, filter]", strings.Join(c.MirroredPlatforms, ", "), imageref.ShortDigest(c.Digest))
	default:
		fmt.Fprintf(&b, " [%s, %s]", strings.Join(c.MirroredPlatforms, ", "), c.PlatformMode)
	}
	if len(c.Referrers) > 0 {
		fmt.Fprintf(&b, " (%s)", referrers.Summary(c.Referrers))
	}
	return b.String()
}

// referrersResult is the RESULT column of an image whose referrers did
// not all land: "ok, 1 of 3 referrers FAILED".
func referrersResult(r apply.Result) string {
	n := len(r.ReferrerFailures)
	return fmt.Sprintf("ok, %d of %s FAILED", n, Plural(n+r.ReferrersCopied, "referrer"))
}

// referrersDone is what a progress line adds for an image with referrers:
// ", 3 referrers copied" or ", 2 referrers copied, 1 FAILED"; "" without.
func referrersDone(r apply.Result) string {
	switch failed := len(r.ReferrerFailures); {
	case failed > 0:
		return fmt.Sprintf(", %s copied, %d FAILED", Plural(r.ReferrersCopied, "referrer"), failed)
	case r.ReferrersCopied > 0:
		return fmt.Sprintf(", %s copied", Plural(r.ReferrersCopied, "referrer"))
	}
	return ""
}

// writeReferrerFailures lists the referrers that failed, under the image
// they belong to, which landed.
func writeReferrerFailures(b *strings.Builder, r apply.Result) {
	fmt.Fprintf(b, "  %s (%s): the image landed, but not all its referrers:\n", r.Change.Target, r.Change.Source)
	for _, f := range r.ReferrerFailures {
		a := f.Artifact
		what := fmt.Sprintf("%s %s of %s", a.Kind, imageref.ShortDigest(a.Digest), imageref.ShortDigest(a.Subject))
		if a.Via == referrers.ViaTag {
			what = fmt.Sprintf("%s %s (tag %s)", a.Kind, imageref.ShortDigest(a.Digest), a.Tag)
		}
		fmt.Fprintf(b, "    %s: %v\n", what, f.Err)
	}
}

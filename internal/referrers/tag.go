package referrers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"

	"github.com/imagesync/imagesync/internal/registry"
)

// tagKinds are the kinds each cosign suffix holds, as Find classifies
// them: an attestation tag may hold an SBOM (its predicate says so).
var tagKinds = map[string][]Kind{".sig": {Signature}, ".att": {Attestation, SBOM}, ".sbom": {SBOM}}

// CheckTag reports whether a's tag is the one its scheme implies for its
// subject, so that a lock or a saved plan, which anyone can edit, cannot
// make apply write any other tag: a referrer found through a cosign tag
// (via "tag") names cosign's tag of its subject, "sha256-<hex>.sig",
// ".att" or ".sbom", with the kind that suffix holds, and is a valid OCI
// tag; an OCI referrer (via "referrers") names none. The error says what
// the tag should be.
func CheckTag(a Artifact) error {
	switch a.Via {
	case ViaReferrers:
		if a.Tag != "" {
			return fmt.Errorf("an OCI referrer (via %q) has no tag, got %q", ViaReferrers, a.Tag)
		}
		return nil
	case ViaTag:
	default:
		return fmt.Errorf("via %q: want %q or %q", a.Via, ViaReferrers, ViaTag)
	}
	if err := ValidTag(a.Tag); err != nil {
		return err
	}
	base := registry.FallbackTag(a.Subject)
	suffix, ok := strings.CutPrefix(a.Tag, base)
	kinds := tagKinds[suffix]
	if !ok || kinds == nil {
		return fmt.Errorf("tag %q is not cosign's tag of the subject %s: want %s.sig, .att or .sbom", a.Tag, a.Subject, base)
	}
	for _, k := range kinds {
		if k == a.Kind {
			return nil
		}
	}
	return fmt.Errorf("tag %q holds a %s, not a %s, under cosign's scheme", a.Tag, kinds[0], a.Kind)
}

// ValidTag reports whether tag is a valid OCI tag (at most 128 of
// [A-Za-z0-9_.-], not starting with "." or "-"): the only tags that may
// go into a registry URL.
func ValidTag(tag string) error {
	repo, err := reference.WithName("x") // any repository: the tag is checked apart from it
	if err == nil {
		_, err = reference.WithTag(repo, tag)
	}
	if err != nil {
		return fmt.Errorf("%q is not a valid tag: %w", tag, err)
	}
	return nil
}

// WrittenTag is a tag apply may write into an image's repository for its
// referrers.
type WrittenTag struct {
	Tag string
	// Fallback is set for the fallback tag ("sha256-<hex>") of a subject
	// of OCI referrers: apply writes its index only on a registry without
	// the referrers API.
	Fallback bool
}

// WrittenTags are the tags apply may write for arts besides the image's
// own tag, sorted, each once: cosign's tags of the referrers found
// through them, and the fallback tag of each subject of OCI referrers.
func WrittenTags(arts []Artifact) []WrittenTag {
	seen := map[string]bool{}
	var out []WrittenTag
	for _, a := range arts {
		w := WrittenTag{Tag: a.Tag}
		if a.Via == ViaReferrers {
			w = WrittenTag{Tag: registry.FallbackTag(a.Subject), Fallback: true}
		}
		if !seen[w.Tag] {
			seen[w.Tag] = true
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b WrittenTag) int { return strings.Compare(a.Tag, b.Tag) })
	return out
}

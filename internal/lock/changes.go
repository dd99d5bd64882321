package lock

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/referrers"
)

// ChangeKind says how an entry of the lock changed.
type ChangeKind int

const (
	Added    ChangeKind = iota // in the new lock only
	Removed                    // in the old lock only
	Upgraded                   // digest (image) or inputs (build) changed
	Moved                      // target or sources changed
)

// Change is one difference between two locks.
type Change struct {
	Kind   ChangeKind
	Build  bool // a build entry rather than an image
	Ref    imageref.Ref
	Detail string // what changed, for Upgraded and Moved
}

// String renders a change as one line: "+ ref", "- ref", "~ ref: detail".
func (c Change) String() string {
	kind := "image"
	if c.Build {
		kind = "build"
	}
	switch c.Kind {
	case Added:
		if c.Detail != "" {
			return fmt.Sprintf("+ %s %s %s", kind, c.Ref, c.Detail)
		}
		return fmt.Sprintf("+ %s %s", kind, c.Ref)
	case Removed:
		return fmt.Sprintf("- %s %s", kind, c.Ref)
	default:
		return fmt.Sprintf("~ %s %s: %s", kind, c.Ref, c.Detail)
	}
}

// Diff lists what changed from old to next, sorted by reference, images
// before builds.
func Diff(old, next *Lock) []Change {
	var changes []Change
	for _, img := range next.Images {
		prev := old.Image(img.Ref)
		switch {
		case prev == nil:
			changes = append(changes, Change{Kind: Added, Ref: img.Ref, Detail: imageref.ShortDigest(img.Digest) + withReferrers(img)})
		case prev.Digest != img.Digest:
			changes = append(changes, Change{Kind: Upgraded, Ref: img.Ref,
				Detail: fmt.Sprintf("digest %s -> %s", imageref.ShortDigest(prev.Digest), imageref.ShortDigest(img.Digest)) + withReferrers(img)})
		default:
			detail := movedDetail(prev.Target, img.Target, prev.Sources, img.Sources)
			if scope := scopeDetail(prev, &img); scope != "" {
				detail = strings.TrimPrefix(detail+"; "+scope, "; ")
			}
			if detail != "" {
				changes = append(changes, Change{Kind: Moved, Ref: img.Ref, Detail: detail})
			}
		}
	}
	for _, img := range old.Images {
		if next.Image(img.Ref) == nil {
			changes = append(changes, Change{Kind: Removed, Ref: img.Ref})
		}
	}
	for _, b := range next.Builds {
		prev := old.Build(b.Ref)
		switch {
		case prev == nil:
			changes = append(changes, Change{Kind: Added, Build: true, Ref: b.Ref})
		case prev.Inputs != b.Inputs:
			changes = append(changes, Change{Kind: Upgraded, Build: true, Ref: b.Ref,
				Detail: fmt.Sprintf("inputs %s -> %s", imageref.ShortDigest(prev.Inputs), imageref.ShortDigest(b.Inputs))})
		default:
			if detail := buildDetail(prev, &b); detail != "" {
				changes = append(changes, Change{Kind: Moved, Build: true, Ref: b.Ref, Detail: detail})
			}
		}
	}
	for _, b := range old.Builds {
		if next.Build(b.Ref) == nil {
			changes = append(changes, Change{Kind: Removed, Build: true, Ref: b.Ref})
		}
	}
	sort.SliceStable(changes, func(i, j int) bool {
		if changes[i].Build != changes[j].Build {
			return !changes[i].Build
		}
		return imageref.Less(changes[i].Ref, changes[j].Ref)
	})
	return changes
}

func movedDetail(oldTarget, newTarget imageref.Ref, oldSources, newSources []string) string {
	var parts []string
	if oldTarget != newTarget {
		parts = append(parts, fmt.Sprintf("target %s -> %s", oldTarget, newTarget))
	}
	if strings.Join(oldSources, "\n") != strings.Join(newSources, "\n") {
		parts = append(parts, fmt.Sprintf("sources [%s] -> [%s]", strings.Join(oldSources, ", "), strings.Join(newSources, ", ")))
	}
	return strings.Join(parts, "; ")
}

func buildDetail(prev, b *Build) string {
	var parts []string
	add := func(field, old, new string) {
		if old != new {
			parts = append(parts, fmt.Sprintf("%s %q -> %q", field, old, new))
		}
	}
	add("services", strings.Join(prev.Services, ", "), strings.Join(b.Services, ", "))
	add("context", prev.Context, b.Context)
	add("dockerfile", prev.Dockerfile, b.Dockerfile)
	add("target_stage", prev.TargetStage, b.TargetStage)
	add("target", prev.Target.String(), b.Target.String())
	add("bases", refsString(prev.Bases), refsString(b.Bases))
	return strings.Join(parts, "; ")
}

func refsString(refs []imageref.Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

// withReferrers is " (+2 signatures, +1 SBOM)" for an image with
// referrers, "" otherwise.
func withReferrers(img Image) string {
	if len(img.Referrers) == 0 {
		return ""
	}
	return " (" + referrers.Summary(img.Referrers) + ")"
}

// scopeDetail says how an image's mirror scope (platform choice and
// referrers) changed, "" when it did not.
func scopeDetail(prev, img *Image) string {
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

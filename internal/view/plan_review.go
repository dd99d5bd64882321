package view

import (
	"fmt"
	"strings"

	"github.com/imagesync/imagesync/internal/diff"
)

// What a plan tells its reviewer beyond its actions: locked digests the
// tag does not point at upstream, tags it could not check, changes that
// write outside target.registry's host, and the tags apply writes besides
// each target's own. Text and markdown render the same findings.

// unusualAdvice says what an unusual digest may be and what to do.
const unusualAdvice = "images.lock was edited by hand, or the tag moved upstream since it was locked: which of the two cannot be told from here. " +
	"Check the change to images.lock; \"imagesync lock --upgrade REF\" locks what the tag points at now."

// extraTag is a tag apply writes besides a target's own.
type extraTag struct {
	repository, tag string
	fallback        bool
}

// extraTags lists them for the plan's pending changes, in plan order.
func extraTags(p *diff.Plan) []extraTag {
	var out []extraTag
	for _, c := range p.Pending() {
		tags, fallback := c.WrittenTags()
		for _, t := range tags {
			if t != c.Target.Tag() || c.Action == diff.Referrers {
				out = append(out, extraTag{c.Target.Repository(), t, false})
			}
		}
		for _, t := range fallback {
			out = append(out, extraTag{c.Target.Repository(), t, true})
		}
	}
	return out
}

const fallbackNote = "the referrers index, only on a registry without the referrers API"

// writeReview writes the review findings of a plan for people, after its
// summary line.
func writeReview(b *strings.Builder, p *diff.Plan) {
	for _, c := range p.OtherHosts() {
		fmt.Fprintf(b, "\nOutside target.registry: %s is written to %s, not to %s.\n", c.Target, c.Target.Domain(), p.TargetHost())
	}
	var unusual, unchecked []diff.Change
	for _, c := range p.Changes {
		switch {
		case c.Unusual():
			unusual = append(unusual, c)
		case c.UpstreamUnchecked():
			unchecked = append(unchecked, c)
		}
	}
	if len(unusual) > 0 {
		fmt.Fprintf(b, "\nWarning: %s:\n", unusualHead(len(unusual)))
		for _, c := range unusual {
			fmt.Fprintf(b, "  ! %s\n      locked    %s\n      upstream  %s\n", c.Source, c.Digest, c.Upstream.Digest)
		}
		fmt.Fprintf(b, "  %s\n", unusualAdvice)
	}
	if len(unchecked) > 0 {
		fmt.Fprintf(b, "\nThe upstream tags of %s could not be checked:\n", Plural(len(unchecked), "image"))
		for _, c := range unchecked {
			fmt.Fprintf(b, "  ? %s: %s\n", c.Source, oneLine(c.Upstream.Err))
		}
	}
	if tags := extraTags(p); len(tags) > 0 {
		b.WriteString("\nTags apply writes besides the targets' own:\n")
		for _, t := range tags {
			note := ""
			if t.fallback {
				note = " (" + fallbackNote + ")"
			}
			fmt.Fprintf(b, "  %s:%s%s\n", t.repository, t.tag, note)
		}
	}
}

// unusualHead counts unusual digests in a sentence.
func unusualHead(n int) string {
	if n == 1 {
		return "1 locked digest is not what its tag points at upstream now"
	}
	return fmt.Sprintf("%d locked digests are not what their tags point at upstream now", n)
}

// writeReviewMarkdown writes the review findings of a plan as markdown,
// after its summary line.
func writeReviewMarkdown(b *strings.Builder, p *diff.Plan, opts MarkdownOptions) {
	for _, c := range p.OtherHosts() {
		fmt.Fprintf(b, "\n> [!WARNING]\n> **Outside target.registry:** %s is written to %s, not to %s.\n", mdCode(c.Target.String()), mdCode(c.Target.Domain()), mdCode(p.TargetHost()))
	}
	unusual := &mdTable{header: []string{"Source", "Locked digest", "Upstream now"}}
	unchecked := &mdTable{header: []string{"Source", "Why"}}
	for _, c := range p.Changes {
		switch {
		case c.Unusual():
			unusual.rows = append(unusual.rows, []string{mdCode(c.Source.String()), mdCode(c.Digest.String()), mdCode(c.Upstream.Digest.String())})
		case c.UpstreamUnchecked():
			unchecked.rows = append(unchecked.rows, []string{mdCode(c.Source.String()), mdCell(c.Upstream.Err)})
		}
	}
	if n := len(unusual.rows); n > 0 {
		fmt.Fprintf(b, "\n### Unusual digests (%d)\n\n> [!CAUTION]\n> %s. %s\n\n", n, unusualHead(n), mdText(unusualAdvice))
		unusual.write(b, opts.MaxRows, "unusual digests")
	}
	if n := len(unchecked.rows); n > 0 {
		fmt.Fprintf(b, "\n_The upstream tags of %s could not be checked:_\n\n", Plural(n, "image"))
		unchecked.write(b, opts.MaxRows, "unchecked")
	}
	if tags := extraTags(p); len(tags) > 0 {
		t := &mdTable{header: []string{"Repository", "Tag", "Written"}}
		for _, et := range tags {
			when := "always"
			if et.fallback {
				when = fallbackNote
			}
			t.rows = append(t.rows, []string{mdCode(et.repository), mdCode(et.tag), when})
		}
		fmt.Fprintf(b, "\n<details><summary>%s apply writes besides the targets' own</summary>\n\n", Plural(len(tags), "tag"))
		t.write(b, opts.MaxRows, "tags")
		b.WriteString("\n</details>\n")
	}
}

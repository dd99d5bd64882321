package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/referrers"
)

// LockDiff is `imagesync diff OLD NEW`'s result: the two lockfiles as
// named on the command line, and what replacing one with the other does.
type LockDiff struct {
	Old, New string
	Diff     *diff.LockDiff
}

// lockDiffSymbols mark each line of the text and markdown forms.
var lockDiffSymbols = map[diff.LockChange]string{
	diff.Added: "+", diff.Removed: "-", diff.DigestMoved: "~", diff.Retargeted: "~", diff.InputsChanged: "~", diff.ReferrersChanged: "~",
}

// lockDiffDetail says what changed for one entry, for people.
func lockDiffDetail(e diff.LockEntry) string {
	c := e.Plan
	var s string
	switch e.Change {
	case diff.Added:
		if c.Kind == diff.KindBuild {
			s = "build, inputs " + imageref.ShortDigest(c.Inputs)
		} else {
			s = "pinned at " + imageref.ShortDigest(c.Digest)
		}
	case diff.Removed:
		s = "no longer locked (the target keeps it: apply deletes nothing)"
	case diff.DigestMoved:
		s = fmt.Sprintf("digest %s -> %s", imageref.ShortDigest(c.CurrentDigest), imageref.ShortDigest(c.TargetDigest()))
	case diff.Retargeted:
		s = fmt.Sprintf("target %s -> %s", e.OldTarget, c.Target)
	case diff.InputsChanged:
		s = fmt.Sprintf("inputs %s -> %s: rebuild", shortInputs(c.CurrentInputs), imageref.ShortDigest(c.Inputs))
	case diff.ReferrersChanged:
		s = "referrers"
	}
	if e.Change == diff.Added && c.Kind == diff.KindImage && len(c.Referrers) > 0 {
		s += " (" + referrers.Summary(c.Referrers) + ")"
	}
	if e.Change != diff.Added && e.Change != diff.Removed {
		s += referrersDelta(e)
	}
	return s
}

// referrersDelta is ", referrers +1 signature, -1 SBOM" (": ..." after
// "referrers" alone).
func referrersDelta(e diff.LockEntry) string {
	var parts []string
	if len(e.ReferrersAdded) > 0 {
		parts = append(parts, referrers.Summary(e.ReferrersAdded))
	}
	if len(e.ReferrersRemoved) > 0 {
		parts = append(parts, strings.ReplaceAll(referrers.Summary(e.ReferrersRemoved), "+", "-"))
	}
	switch {
	case len(parts) == 0:
		return ""
	case e.Change == diff.ReferrersChanged:
		return " " + strings.Join(parts, ", ")
	}
	return "; referrers " + strings.Join(parts, ", ")
}

func shortInputs(s string) string {
	if d, err := digest.Parse(s); err == nil {
		return imageref.ShortDigest(d)
	}
	return s
}

// lockDiffSummary is the closing line: "Lock diff: 1 image added, ...".
func lockDiffSummary(d *diff.LockDiff) string {
	if len(d.Entries) == 0 {
		return fmt.Sprintf("No changes: both locks pin the same images and builds (%d).", d.Unchanged)
	}
	var parts []string
	for _, k := range []struct {
		kind   diff.Kind
		change diff.LockChange
		what   string
	}{
		{diff.KindImage, diff.Added, "added"}, {diff.KindImage, diff.Removed, "removed"},
		{diff.KindImage, diff.DigestMoved, "moved to another digest"}, {diff.KindImage, diff.Retargeted, "retargeted"},
		{diff.KindImage, diff.ReferrersChanged, "with other referrers only"},
		{diff.KindBuild, diff.Added, "added"}, {diff.KindBuild, diff.Removed, "removed"},
		{diff.KindBuild, diff.InputsChanged, "to rebuild (inputs changed)"}, {diff.KindBuild, diff.Retargeted, "retargeted"},
	} {
		if n := d.Count(k.kind, k.change); n > 0 {
			parts = append(parts, Plural(n, string(k.kind))+" "+k.what)
		}
	}
	return fmt.Sprintf("Lock diff: %s; %d unchanged.", strings.Join(parts, ", "), d.Unchanged)
}

// WriteLockDiff renders a lock diff for people: one line per entry that
// differs, then the summary line.
func WriteLockDiff(w io.Writer, d LockDiff) error {
	var b strings.Builder
	if len(d.Diff.Entries) > 0 {
		fmt.Fprintf(&b, "What replacing %s with %s does:\n\n", d.Old, d.New)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, e := range d.Diff.Entries {
			fmt.Fprintf(tw, "  %s %s %s\t-> %s\t%s\n", lockDiffSymbols[e.Change], e.Plan.Kind, e.Plan.Source, e.Plan.Target, lockDiffDetail(e))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		b.WriteString("\n")
	}
	b.WriteString(lockDiffSummary(d.Diff) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteLockDiffMarkdown renders a lock diff for a pull request.
func WriteLockDiffMarkdown(w io.Writer, d LockDiff) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## imagesync diff\n\n%s -> %s\n\n**%s**\n", mdCode(d.Old), mdCode(d.New), mdText(lockDiffSummary(d.Diff)))
	if len(d.Diff.Entries) > 0 {
		t := &mdTable{header: []string{"", "Kind", "Reference", "Target", "Change"}}
		for _, e := range d.Diff.Entries {
			t.rows = append(t.rows, []string{lockDiffSymbols[e.Change], string(e.Plan.Kind), mdCode(e.Plan.Source.String()),
				mdCode(e.Plan.Target.String()), mdCell(lockDiffDetail(e))})
		}
		b.WriteString("\n")
		t.write(&b, len(t.rows), "")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// lockDiffJSON is the JSON form of a lock diff.
type lockDiffJSON struct {
	FormatVersion string           `json:"format_version"`
	Old           string           `json:"old"`
	New           string           `json:"new"`
	Changes       []lockChangeJSON `json:"changes"`
	Unchanged     int              `json:"unchanged"`
}

type lockChangeJSON struct {
	Change           string             `json:"change"` // added, removed, digest, target, inputs, referrers
	Kind             string             `json:"kind"`   // image, build
	Source           string             `json:"source"`
	Target           string             `json:"target"`
	OldTarget        string             `json:"old_target,omitempty"`
	Digest           string             `json:"digest,omitempty"`
	OldDigest        string             `json:"old_digest,omitempty"`
	Inputs           string             `json:"inputs,omitempty"`
	OldInputs        string             `json:"old_inputs,omitempty"`
	ReferrersAdded   []lockReferrerJSON `json:"referrers_added,omitempty"`
	ReferrersRemoved []lockReferrerJSON `json:"referrers_removed,omitempty"`
}

type lockReferrerJSON struct {
	Digest  string `json:"digest"`
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
}

// lockDiffFormatVersion is the version of the JSON form of `imagesync
// diff`; it changes only when a field changes meaning or disappears.
const lockDiffFormatVersion = "1"

// WriteLockDiffJSON renders a lock diff as one JSON document.
func WriteLockDiffJSON(w io.Writer, d LockDiff) error {
	doc := lockDiffJSON{FormatVersion: lockDiffFormatVersion, Old: d.Old, New: d.New, Changes: []lockChangeJSON{}, Unchanged: d.Diff.Unchanged}
	for _, e := range d.Diff.Entries {
		c := e.Plan
		j := lockChangeJSON{Change: string(e.Change), Kind: string(c.Kind), Source: c.Source.String(), Target: c.Target.String()}
		if e.OldTarget != (imageref.Ref{}) {
			j.OldTarget = e.OldTarget.String()
		}
		if c.Kind == diff.KindImage {
			j.Digest = c.TargetDigest().String()
			if e.Change == diff.DigestMoved {
				j.OldDigest = c.CurrentDigest.String()
			}
		} else {
			j.Inputs = c.Inputs.String()
			if e.Change == diff.InputsChanged || e.Change == diff.Retargeted {
				j.OldInputs = c.CurrentInputs
			}
		}
		j.ReferrersAdded, j.ReferrersRemoved = referrersJSON(e.ReferrersAdded), referrersJSON(e.ReferrersRemoved)
		if e.Change == diff.Added {
			j.ReferrersAdded = referrersJSON(c.Referrers)
		}
		doc.Changes = append(doc.Changes, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func referrersJSON(arts []referrers.Artifact) []lockReferrerJSON {
	var out []lockReferrerJSON
	for _, a := range arts {
		out = append(out, lockReferrerJSON{Digest: a.Digest.String(), Kind: string(a.Kind), Subject: a.Subject.String()})
	}
	return out
}

package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
)

// planGroups are the sections of a markdown plan, in order.
var planGroups = []struct {
	action  diff.Action
	title   string
	more    string // "… and N more <more>"
	columns []string
}{
	{diff.Create, "Create", "to create", []string{"Source", "Target", "Digest", "Platforms"}},
	{diff.Update, "Update", "to update", []string{"Source", "Target", "Digest", "Platforms", "Changed in"}},
	{diff.Build, "Build", "to build", []string{"Image", "Target", "Services", "Inputs"}},
	{diff.Rebuild, "Rebuild", "to rebuild", []string{"Image", "Target", "Services", "Inputs"}},
	{diff.Referrers, "Referrers", "with referrers to copy", []string{"Source", "Target", "Digest", "Platforms"}},
}

// WritePlanMarkdown renders a plan for a pull request (a job summary, a
// comment, a merge request note): the summary line, a table of changes per
// action, the unchanged images folded away, then the preflight. Tables
// longer than opts.MaxRows are cut, saying how many rows were left out.
func WritePlanMarkdown(w io.Writer, p *diff.Plan, opts MarkdownOptions) error {
	opts = opts.withDefaults()
	var b strings.Builder
	b.WriteString("## imagesync plan\n\n")
	if nc := p.NotCompared; nc != nil {
		fmt.Fprintf(&b, "> [!WARNING]\n> **Target not compared:** %s\n>\n> %s was compared with %s instead: the changes below are what apply would do if the target held the images of %s.\n\n",
			mdText(nc.Reason), mdCode(opts.LockName), mdCode(nc.BaseLock), mdCode(nc.BaseLock))
	}
	if p.Summary.HasChanges() {
		fmt.Fprintf(&b, "**%s**\n", strings.TrimSpace(SummaryLine(p)))
	} else {
		fmt.Fprintf(&b, "**No changes.** %s\n", noChangesDetail(p, mdCode(opts.LockName)))
	}
	writeReviewMarkdown(&b, p, opts)
	for _, g := range planGroups {
		t := &mdTable{header: g.columns}
		for _, c := range p.Changes {
			if c.Action == g.action {
				t.rows = append(t.rows, changeRow(c))
			}
		}
		if len(t.rows) > 0 {
			fmt.Fprintf(&b, "\n### %s (%d)\n\n", g.title, len(t.rows))
			t.write(&b, opts.MaxRows, g.more)
		}
	}
	unchanged := &mdTable{header: []string{"Source", "Target", "Digest or inputs"}}
	for _, c := range p.Changes {
		if c.Action == diff.NoOp {
			unchanged.rows = append(unchanged.rows, []string{mdCode(c.Source.String()), mdCode(c.Target.String()), mdCode(short(c.Digest, c.Inputs))})
		}
	}
	if n := len(unchanged.rows); n > 0 {
		fmt.Fprintf(&b, "\n<details><summary>%s</summary>\n\n", Plural(n, "unchanged image"))
		unchanged.write(&b, opts.MaxRows, "unchanged")
		b.WriteString("\n</details>\n")
	}
	writePreflightMarkdown(&b, p.Preflight)
	return writeText(w, b.String())
}

// changeRow is the table row of a pending change.
func changeRow(c diff.Change) []string {
	src, dst := mdCode(c.Source.String()), mdCode(c.Target.String())
	if c.Kind == diff.KindBuild {
		inputs := mdCode(imageref.ShortDigest(c.Inputs))
		if c.Action == diff.Rebuild {
			old := mdCode(imageref.ShortDigest(digest.Digest(c.CurrentInputs)))
			if old == "" {
				old = "(none recorded)"
			}
			inputs = old + " → " + inputs
		}
		return []string{src, dst, mdCell(strings.Join(c.Services, ", ")), inputs}
	}
	d := mdCode(imageref.ShortDigest(c.Digest))
	if c.Unusual() {
		d += " :warning: unusual"
	}
	platforms := mdCell(strings.Join(c.Platforms, ", "))
	if c.Action == diff.Update {
		locators := make([]string, len(c.Sources))
		for i, s := range c.Sources {
			locators[i] = mdCode(s)
		}
		return []string{src, dst, mdCode(imageref.ShortDigest(c.CurrentDigest)) + " → " + d, platforms, strings.Join(locators, ", ")}
	}
	return []string{src, dst, d, platforms}
}

// short is an image's short digest, or a build's short inputs.
func short(d, inputs digest.Digest) string {
	if d != "" {
		return imageref.ShortDigest(d)
	}
	return "inputs " + imageref.ShortDigest(inputs)
}

// noChangesDetail is what a plan without changes found, lockName as it
// should appear.
func noChangesDetail(p *diff.Plan, lockName string) string {
	if nc := p.NotCompared; nc != nil {
		return fmt.Sprintf("%s matches %s (target not compared).", lockName, nc.BaseLock)
	}
	return fmt.Sprintf("The target registry matches %s.", lockName)
}

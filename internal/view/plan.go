package view

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/imagesync/imagesync/internal/diff"
)

const noChanges = "No changes. The target registry matches images.lock."

// symbols of the plan, in Terraform's style.
var symbols = map[diff.Action]string{diff.Create: "+", diff.Update: "~", diff.NoOp: "="}

var legend = map[diff.Action]string{
	diff.Create: "create: the target reference is missing",
	diff.Update: "update: the target tag points at another digest",
	diff.NoOp:   "unchanged: the target already holds the locked digest",
}

// WritePlan renders a plan for people: a legend of the symbols used, one
// line per change (source, target, digest), then a summary line. Unchanged
// images are listed only when verbose.
func WritePlan(w io.Writer, p *diff.Plan, verbose bool) error {
	if !p.Summary.HasChanges() && !verbose {
		_, err := fmt.Fprintln(w, noChanges)
		return err
	}
	var shown []diff.Change
	used := map[diff.Action]bool{}
	for _, c := range p.Changes {
		if c.Action != diff.NoOp || verbose {
			shown = append(shown, c)
			used[c.Action] = true
		}
	}
	var b strings.Builder
	b.WriteString("imagesync compared images.lock with the target registry. Actions are shown with these symbols:\n")
	for _, a := range []diff.Action{diff.Create, diff.Update, diff.NoOp} {
		if used[a] {
			fmt.Fprintf(&b, "  %s %s\n", symbols[a], legend[a])
		}
	}
	b.WriteString("\nimagesync will perform the following actions:\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range shown {
		digest := ShortDigest(c.Digest)
		if c.Action == diff.Update {
			digest = ShortDigest(c.CurrentDigest) + " -> " + digest
		}
		fmt.Fprintf(tw, "  %s %s\t-> %s\t%s\n", symbols[c.Action], c.Source, c.Target, digest)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\n")
	if p.Summary.HasChanges() {
		fmt.Fprintf(&b, "Plan: %d to create, %d to update, %d unchanged.\n", p.Summary.Create, p.Summary.Update, p.Summary.Unchanged)
	} else {
		fmt.Fprintln(&b, noChanges)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WritePlanJSON renders a plan as one JSON document, the same model as the
// text and what `plan --out` saves.
func WritePlanJSON(w io.Writer, p *diff.Plan) error {
	return diff.WritePlan(w, p)
}

package view

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
)

// symbols of the plan, in Terraform's style.
var symbols = map[diff.Action]string{diff.Create: "+", diff.Update: "~", diff.Build: "+", diff.Rebuild: "~", diff.NoOp: "=",
	diff.Referrers: "~"}

var legend = map[diff.Action]string{
	diff.Create:    "+ create: the target reference is missing",
	diff.Update:    "~ update: the target tag points at another digest",
	diff.Build:     "+ build: the repository's image is missing from the target, it will be built",
	diff.Rebuild:   "~ rebuild: the image in the target was built from other inputs",
	diff.NoOp:      "= unchanged: the target already holds the locked digest or inputs",
	diff.Referrers: "~ referrers: the image is in place, signatures, attestations or SBOMs locked with it are missing",
}

// WritePlan renders a plan for people: a legend of the symbols used, one
// line per change (source, target, digest), then a summary line and the
// preflight. Unchanged images are listed only when verbose. A plan that
// did not compare the target says so first.
func WritePlan(w io.Writer, p *diff.Plan, verbose bool) error {
	var b strings.Builder
	compared := "the target registry"
	if nc := p.NotCompared; nc != nil {
		fmt.Fprintf(&b, "Target not compared: %s\n\n", oneLine(nc.Reason))
		compared = nc.BaseLock + " (target not compared)"
	}
	if !p.Summary.HasChanges() && !verbose {
		fmt.Fprintf(&b, "No changes. %s\n", noChangesDetail(p, "images.lock"))
		return writeText(w, b.String())
	}
	var shown []diff.Change
	used := map[diff.Action]bool{}
	for _, c := range p.Changes {
		if c.Action != diff.NoOp || verbose {
			shown = append(shown, c)
			used[c.Action] = true
		}
	}
	fmt.Fprintf(&b, "imagesync compared images.lock with %s. Actions are shown with these symbols:\n", compared)
	for _, a := range []diff.Action{diff.Create, diff.Update, diff.Referrers, diff.Build, diff.Rebuild, diff.NoOp} {
		if used[a] {
			fmt.Fprintf(&b, "  %s\n", legend[a])
		}
	}
	b.WriteString("\nimagesync will perform the following actions:\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range shown {
		mark := ""
		if c.Unusual() {
			mark = "  ! unusual digest, see below"
		}
		fmt.Fprintf(tw, "  %s %s\t-> %s\t%s%s\n", symbols[c.Action], c.Source, c.Target, changeDetail(c), mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\n")
	if p.Summary.HasChanges() {
		b.WriteString(SummaryLine(p))
	} else {
		fmt.Fprintf(&b, "No changes. %s\n", noChangesDetail(p, "images.lock"))
	}
	writeReview(&b, p)
	if err := writePreflight(&b, p.Preflight); err != nil {
		return err
	}
	return writeText(w, b.String())
}

// changeDetail is the last column of a plan line: the digest an image goes
// to, or why a build happens.
func changeDetail(c diff.Change) string {
	short := imageref.ShortDigest
	switch c.Action {
	case diff.Update:
		return short(c.CurrentDigest) + " -> " + short(c.TargetDigest()) + supplyDetail(c)
	case diff.Build:
		return fmt.Sprintf("build %s, inputs %s", ServicesLabel(c.Services), short(c.Inputs))
	case diff.Rebuild:
		old := short(digest.Digest(c.CurrentInputs))
		if old == "" {
			old = "(none recorded)"
		}
		return fmt.Sprintf("rebuild %s, inputs %s -> %s", ServicesLabel(c.Services), old, short(c.Inputs))
	}
	if c.Kind == diff.KindBuild {
		return fmt.Sprintf("%s, inputs %s", ServicesLabel(c.Services), short(c.Inputs))
	}
	return short(c.TargetDigest()) + supplyDetail(c)
}

// ServicesLabel names the compose services of a build: "service web", or
// "services salt-master-1, salt-master-2" for services sharing one build.
func ServicesLabel(services []string) string {
	if len(services) == 1 {
		return "service " + services[0]
	}
	return "services " + strings.Join(services, ", ")
}

// SummaryLine counts the plan's changes ("Plan: 1 to create, ..."), with
// the build counts when the plan holds builds.
func SummaryLine(p *diff.Plan) string {
	s := p.Summary
	hasBuilds := false
	for _, c := range p.Changes {
		hasBuilds = hasBuilds || c.Kind == diff.KindBuild
	}
	counts := fmt.Sprintf("%d to create, %d to update", s.Create, s.Update)
	if s.Referrers > 0 {
		counts += fmt.Sprintf(", %d with referrers to copy", s.Referrers)
	}
	if !hasBuilds {
		return fmt.Sprintf("Plan: %s, %d unchanged.\n", counts, s.Unchanged)
	}
	return fmt.Sprintf("Plan: %s, %d to build, %d to rebuild, %d unchanged.\n", counts, s.Build, s.Rebuild, s.Unchanged)
}

// WritePlanSaved says where the plan was saved and how to apply it.
func WritePlanSaved(w io.Writer, file string) error {
	return writeText(w, fmt.Sprintf("\nSaved the plan to %s. To apply exactly this plan, run:\n  imagesync apply %s\n", file, file))
}

// WritePlanJSON renders a plan as one JSON document, the same model as the
// text and what `plan --out` saves.
func WritePlanJSON(w io.Writer, p *diff.Plan) error {
	return diff.EncodePlan(safeJSON(w), p)
}

package view

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/imagesync/imagesync/internal/diff"
)

// targetStatuses are the preflight statuses in the order they are counted.
var targetStatuses = []diff.TargetStatus{diff.TargetOK, diff.TargetCreatedOnPush, diff.TargetMissing, diff.TargetNoPush, diff.TargetUnchecked}

// statusMarks prefix the statuses in markdown.
var statusMarks = map[diff.TargetStatus]string{
	diff.TargetOK: ":white_check_mark:", diff.TargetCreatedOnPush: ":new:", diff.TargetMissing: ":x:",
	diff.TargetNoPush: ":no_entry:", diff.TargetUnchecked: ":warning:",
}

// writePreflight renders a plan's preflight for people, after its summary
// line: the count of target repositories by status and a line for each
// one apply would fail on or that could not be checked, then the pulls
// per source registry and a warning when a rate limit would run out.
func writePreflight(b *strings.Builder, pf *diff.Preflight) error {
	if pf == nil {
		return nil
	}
	if pf.Checked && len(pf.Targets) > 0 {
		fmt.Fprintf(b, "\nPreflight of the %s the plan writes to: %s.\n", repositories(len(pf.Targets)), statusCounts(pf))
		for _, t := range pf.Targets {
			if t.Status == diff.TargetOK || t.Status == diff.TargetCreatedOnPush {
				continue
			}
			fmt.Fprintf(b, "  %-18s  %s: %s\n", t.Status, t.Repository, oneLine(t.Detail))
			if t.Fix != "" {
				fmt.Fprintf(b, "  %-18s  -> %s\n", "", t.Fix)
			}
		}
	}
	if len(pf.Pulls) == 0 {
		return nil
	}
	b.WriteString("\nPulls apply will send to source registries (manifest GETs, what Docker Hub counts):\n")
	var rows strings.Builder
	tw := tabwriter.NewWriter(&rows, 0, 0, 2, ' ', 0)
	for _, s := range pf.Pulls {
		fmt.Fprintf(tw, "  %s\t%d for %s\t%s\n", s.Registry, s.Pulls, Plural(s.Images, "image"), rateLimitText(s))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(rows.String()) {
		// tabwriter pads the cell before an empty rate limit.
		b.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
	for _, s := range pf.Pulls {
		if s.Exceeds() {
			fmt.Fprintf(b, "Warning: %s\n", exceedsText(s))
		}
	}
	return nil
}

// writePreflightMarkdown renders a plan's preflight as markdown tables:
// every target repository with its status, the pulls per source registry.
func writePreflightMarkdown(b *strings.Builder, pf *diff.Preflight) {
	if pf == nil || (!pf.Checked || len(pf.Targets) == 0) && len(pf.Pulls) == 0 {
		return
	}
	b.WriteString("\n### Preflight\n\n")
	if pf.Checked && len(pf.Targets) > 0 {
		fmt.Fprintf(b, "%s the plan writes to: %s.\n\n", capitalize(repositories(len(pf.Targets))), statusCounts(pf))
		t := &mdTable{header: []string{"Target repository", "Status", "Detail"}}
		for _, c := range pf.Targets {
			detail := mdCell(c.Detail)
			if c.Fix != "" {
				detail += " — " + mdCell(c.Fix)
			}
			t.rows = append(t.rows, []string{mdCode(c.Repository), statusMarks[c.Status] + " " + string(c.Status), detail})
		}
		t.write(b, len(t.rows), "")
		b.WriteString("\n")
	}
	if len(pf.Pulls) > 0 {
		t := &mdTable{header: []string{"Source registry", "Images", "Pulls (manifest GETs)", "Rate limit"}}
		for _, s := range pf.Pulls {
			limit := mdCell(rateLimitText(s))
			if s.Exceeds() {
				limit = ":warning: " + limit
			}
			t.rows = append(t.rows, []string{mdCode(s.Registry), fmt.Sprint(s.Images), fmt.Sprint(s.Pulls), limit})
		}
		t.write(b, len(t.rows), "")
	}
	for _, s := range pf.Pulls {
		if s.Exceeds() {
			fmt.Fprintf(b, "\n> [!WARNING]\n> %s\n", mdText(exceedsText(s)))
		}
	}
}

// rateLimitText says what a source registry announced of its rate limit.
func rateLimitText(s diff.SourcePulls) string {
	switch {
	case s.Error != "":
		return "rate limit not read: " + oneLine(s.Error)
	case s.RateLimit != nil:
		return fmt.Sprintf("rate limit: %d of %d left%s", s.RateLimit.Remaining, s.RateLimit.Limit, perWindow(s.RateLimit.Window))
	case s.Endpoint != "":
		return "no rate limit announced"
	}
	return ""
}

// exceedsText warns that apply needs more pulls than remain.
func exceedsText(s diff.SourcePulls) string {
	return fmt.Sprintf("apply needs %d pulls from %s, and only %d of %d remain%s: it would run out halfway. Wait for the limit to reset, or log in to %s for a higher one.",
		s.Pulls, s.Registry, s.RateLimit.Remaining, s.RateLimit.Limit, perWindow(s.RateLimit.Window), s.Registry)
}

// perWindow is " per 6h", "" without a window.
func perWindow(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	s := d.String()
	for _, zero := range []string{"0s", "0m"} {
		if strings.HasSuffix(s, zero) && len(s) > len(zero) && strings.ContainsAny(s[:len(s)-len(zero)], "hm") {
			s = strings.TrimSuffix(s, zero)
		}
	}
	return " per " + s
}

// statusCounts is "2 ok, 1 missing", in the order of targetStatuses.
func statusCounts(pf *diff.Preflight) string {
	counts := pf.Count()
	var parts []string
	for _, s := range targetStatuses {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

func repositories(n int) string {
	if n == 1 {
		return "1 target repository"
	}
	return fmt.Sprintf("%d target repositories", n)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// oneLine joins the lines of a message.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

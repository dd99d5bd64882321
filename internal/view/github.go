package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/workspace"
)

// Annotation is a GitHub Actions workflow command ("::error file=...::")
// that shows a message on a file and line of a pull request's diff.
type Annotation struct {
	Level   string // "error", "warning" or "notice"
	File    string // relative to the repository root; "" for none
	Line    int    // 0 for the whole file
	Col     int
	EndLine int
	EndCol  int
	Title   string
	Message string
}

// WriteAnnotations writes annotations as workflow commands, one a line.
// The runner reads them from the step's output, stderr as well as stdout.
func WriteAnnotations(w io.Writer, as []Annotation) error {
	var b strings.Builder
	for _, a := range as {
		var props []string
		add := func(key, value string) {
			if value != "" && value != "0" {
				props = append(props, key+"="+escapeProperty(value))
			}
		}
		add("file", a.File)
		add("line", fmt.Sprint(a.Line))
		add("col", fmt.Sprint(a.Col))
		add("endLine", fmt.Sprint(a.EndLine))
		add("endColumn", fmt.Sprint(a.EndCol))
		add("title", a.Title)
		fmt.Fprintf(&b, "::%s %s::%s\n", a.Level, strings.Join(props, ","), escapeData(a.Message))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// escapeData escapes a workflow command's message, as the Actions
// toolkit does: the runner reads "%", CR and LF encoded, so that a
// message (a registry's error text) stays on its line and cannot start
// another command; the other control characters, which the log would
// act on, are written as Go escapes (escapeControls).
func escapeData(s string) string {
	return escapeControls(strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s))
}

// escapeProperty escapes a property value (a file, a title), which may
// not hold ":" or "," either: they end the property.
func escapeProperty(s string) string {
	return escapeControls(strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s))
}

// DiagnosticAnnotations are HCL diagnostics as annotations on their
// files; path turns a diagnostic's file name into the path the
// annotation names (relative to the repository root).
func DiagnosticAnnotations(diags hcl.Diagnostics, path func(string) string) []Annotation {
	var out []Annotation
	for _, d := range diags {
		a := Annotation{Level: "error", Title: d.Summary, Message: d.Summary}
		if d.Severity == hcl.DiagWarning {
			a.Level = "warning"
		}
		if d.Detail != "" {
			a.Message = d.Detail
		}
		if s := d.Subject; s != nil {
			a.File, a.Line, a.Col = path(s.Filename), s.Start.Line, s.Start.Column
			if s.End.Line == s.Start.Line {
				a.EndCol = s.End.Column
			}
		}
		out = append(out, a)
	}
	return out
}

// StaleLockAnnotations mark a stale lock: each entry it no longer needs or
// that changed on its block, each missing one on the file, with the
// command that fixes it. lockFile is the parsed lock (nil when missing),
// lockPath the path the annotations name.
func StaleLockAnnotations(e *workspace.StaleLockError, lockFile *hcl.File, lockPath, fix string) []Annotation {
	hint := FixLock(fix, e.LockName)
	if e.Missing {
		return []Annotation{{Level: "error", File: lockPath, Title: e.LockName + " does not exist", Message: hint}}
	}
	var out []Annotation
	for _, c := range e.Changes {
		kind := "image"
		if c.Build {
			kind = "build"
		}
		a := Annotation{Level: "error", File: lockPath, Title: e.LockName + " is out of date",
			Message: fmt.Sprintf("%s %s: %s\n%s", changeSymbol(c), subject(c), staleDetail(c, e.LockName), hint)}
		if c.Kind != lock.Added { // the entry is in the lock
			a.Line = blockLine(lockFile, kind, c.Ref)
		}
		out = append(out, a)
	}
	return out
}

// FailedImageAnnotations mark the images apply failed on, on their blocks
// of the lock.
func FailedImageAnnotations(res *workspace.ApplyResult, lockFile *hcl.File, lockPath string) []Annotation {
	var out []Annotation
	for _, r := range tally(res.Results).failed {
		// An image that landed while some of its referrers did not has
		// no error of its own: the message lists the referrers.
		out = append(out, Annotation{Level: "error", File: lockPath, Line: blockLine(lockFile, string(r.Change.Kind), r.Change.Source),
			Title: "imagesync apply failed for " + r.Change.Target.String(), Message: failureText(r)})
	}
	if res.Stopped != nil {
		out = append(out, Annotation{Level: "error", Title: "imagesync apply stopped", Message: stoppedText(res.Stopped, tally(res.Results)) + "\n" + againText(res.Stopped)})
	}
	return out
}

// PreflightAnnotations mark what the preflight found apply would fail on
// (errors) or could not check and the rate limits that would run out
// (warnings), on the lock's block of the first image of each repository.
func PreflightAnnotations(p *diff.Plan, lockFile *hcl.File, lockPath string) []Annotation {
	if p.Preflight == nil {
		return nil
	}
	var out []Annotation
	for _, t := range p.Preflight.Targets {
		level := "error"
		switch {
		case t.Status == diff.TargetUnchecked:
			level = "warning"
		case !t.Status.Blocks():
			continue
		}
		a := Annotation{Level: level, File: lockPath, Title: fmt.Sprintf("target repository %s: %s", t.Repository, t.Status), Message: t.Detail}
		if t.Fix != "" {
			a.Message += "\n" + t.Fix
		}
		for _, c := range p.Pending() {
			if c.Target.Repository() == t.Repository {
				a.Line = blockLine(lockFile, string(c.Kind), c.Source)
				break
			}
		}
		out = append(out, a)
	}
	for _, s := range p.Preflight.Pulls {
		if s.Exceeds() {
			out = append(out, Annotation{Level: "warning", Title: "pull limit of " + s.Registry, Message: exceedsText(s)})
		}
	}
	return out
}

// blockLine is the line of the lock's block of kind ("image", "build")
// for ref, 0 when the lock has none.
func blockLine(f *hcl.File, kind string, ref imageref.Ref) int {
	if f == nil {
		return 0
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return 0
	}
	for _, b := range body.Blocks {
		if b.Type == kind && len(b.Labels) == 1 && b.Labels[0] == ref.String() {
			return b.TypeRange.Start.Line
		}
	}
	return 0
}

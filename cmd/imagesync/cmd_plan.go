package main

import (
	"context"
	"io"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/view"
	"github.com/imagesync/imagesync/internal/workspace"
)

func (a *planArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := openWorkspace(e, &a.globals, a.MaxWait)
	if err != nil {
		return exitError, err
	}
	p, err := w.Review(ctx, workspace.ReviewOptions{
		PlanOptions: workspace.PlanOptions{Targets: a.targets, SkipBuilds: a.SkipBuilds, Out: a.Out, Shard: a.shard},
		NoPreflight: a.NoPreflight, BaseLock: a.BaseLock})
	if err != nil {
		return exitError, err
	}
	md := e.markdownOptions(w)
	if err := a.write(e.stdout, p, md); err != nil {
		return exitError, err
	}
	gh := e.github()
	gh.appendSummary(func(out io.Writer) error { return view.WritePlanMarkdown(out, p, md) })
	gh.annotate(view.PreflightAnnotations(p, w.LockFile(), gh.path(w.LockPath())))
	if err := p.Preflight.Err(); err != nil {
		return exitError, err
	}
	if a.DetailedExitCode && p.Summary.HasChanges() {
		return exitChanges, nil
	}
	return exitOK, nil
}

// write renders the plan in the chosen format.
func (a *planArgs) write(out io.Writer, p *diff.Plan, md view.MarkdownOptions) error {
	switch a.format {
	case view.JSON:
		return view.WritePlanJSON(out, p)
	case view.Markdown:
		return view.WritePlanMarkdown(out, p, md)
	}
	if err := view.WritePlan(out, p, a.Verbose); err != nil {
		return err
	}
	if err := view.WriteShard(out, p); err != nil {
		return err
	}
	if a.Out != "" {
		return view.WritePlanSaved(out, a.Out)
	}
	return nil
}

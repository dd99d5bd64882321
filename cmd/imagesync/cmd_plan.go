package main

import (
	"context"

	"github.com/imagesync/imagesync/internal/view"
	"github.com/imagesync/imagesync/internal/workspace"
)

func (a *planArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := openWorkspace(e, &a.globals)
	if err != nil {
		return exitError, err
	}
	p, err := w.Plan(ctx, workspace.PlanOptions{Targets: a.targets, SkipBuilds: a.SkipBuilds, Out: a.Out, Shard: a.shard})
	if err != nil {
		return exitError, err
	}
	if a.JSON {
		err = view.WritePlanJSON(e.stdout, p)
	} else {
		err = view.WritePlan(e.stdout, p, a.Verbose)
		if err == nil {
			err = view.WriteShard(e.stdout, p)
		}
		if err == nil && a.Out != "" {
			err = view.WritePlanSaved(e.stdout, a.Out)
		}
	}
	if err != nil {
		return exitError, err
	}
	if a.DetailedExitCode && p.Summary.HasChanges() {
		return exitChanges, nil
	}
	return exitOK, nil
}

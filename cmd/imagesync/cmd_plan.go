package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/imagesync/imagesync/internal/atomicfile"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/view"
)

func (a *planArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := loadWorkspace(e, &a.globals)
	if err != nil {
		return exitError, err
	}
	cur, err := currentLock(ctx, e, w)
	if err != nil {
		return exitError, err
	}
	client := registry.New(w.cfg, registry.WithLogger(e.logger))
	p, err := diff.Make(ctx, cur.lock, lock.Sum(cur.src), client, diff.Options{Targets: a.targets, SkipBuilds: a.SkipBuilds})
	if err != nil {
		return exitError, err
	}
	if a.Out != "" {
		if err := savePlan(a.Out, p); err != nil {
			return exitError, err
		}
	}
	if a.JSON {
		err = view.WritePlanJSON(e.stdout, p)
	} else {
		err = view.WritePlan(e.stdout, p, a.Verbose)
		if err == nil && a.Out != "" {
			fmt.Fprintf(e.stdout, "\nSaved the plan to %s. To apply exactly this plan, run:\n  imagesync apply %s\n", a.Out, a.Out)
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

// savePlan writes a plan file atomically.
func savePlan(filename string, p *diff.Plan) error {
	var b bytes.Buffer
	if err := diff.WritePlan(&b, p); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return atomicfile.Write(filename, b.Bytes())
}

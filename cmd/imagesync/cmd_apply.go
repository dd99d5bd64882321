package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/view"
	"github.com/imagesync/imagesync/internal/workspace"
)

func (a *applyArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := openWorkspace(e, &a.globals)
	if err != nil {
		return exitError, err
	}
	p, err := a.plan(ctx, e, w)
	if err != nil {
		return exitError, err
	}
	if len(p.Pending()) == 0 {
		return exitOK, view.WriteApplySummary(e.stdout, nil, p.Summary.Unchanged)
	}
	fmt.Fprintln(e.stdout)
	opts := workspace.ApplyOptions{Parallelism: a.Parallelism, ShardWait: a.ShardWait}
	var bars *view.BarProgress
	switch {
	case a.Quiet:
	case e.stdoutTTY && p.Summary.Build+p.Summary.Rebuild == 0:
		bars = view.NewBarProgress(e.stdout)
		opts.Progress = bars
	default:
		opts.Progress, opts.BuildOutput = view.NewLineProgress(e.stdout), e.stdout
	}
	res, err := w.Apply(ctx, p, opts)
	if bars != nil {
		bars.Wait()
	}
	if err != nil {
		return exitError, err
	}
	fmt.Fprintln(e.stdout)
	if err := view.WriteApplySummary(e.stdout, res.Results, res.Unchanged); err != nil {
		return exitError, err
	}
	if ctx.Err() != nil {
		return exitError, ctx.Err()
	}
	if failed := res.Failed(); failed > 0 {
		return exitError, fmt.Errorf("%s of %d failed to apply; the list is above", view.Plural(failed, "image"), len(res.Results))
	}
	return exitOK, nil
}

// plan returns the plan to apply: the saved plan, or a new one that the
// user has seen and approved.
func (a *applyArgs) plan(ctx context.Context, e *env, w *workspace.Workspace) (*diff.Plan, error) {
	if a.PlanFile != "" {
		p, err := w.LoadPlan(ctx, a.PlanFile, a.shard)
		if err != nil {
			return nil, err
		}
		if err := view.WriteApplyingSavedPlan(e.stdout, a.PlanFile, p); err != nil {
			return nil, err
		}
		return p, view.WriteShard(e.stdout, p)
	}
	p, err := w.Plan(ctx, workspace.PlanOptions{Targets: a.targets, SkipBuilds: a.SkipBuilds, Shard: a.shard})
	if err != nil {
		return nil, err
	}
	// --quiet prints only the summary, but a plan awaiting confirmation
	// is always shown: nobody approves what they cannot see.
	if !a.Quiet || (p.Summary.HasChanges() && !a.AutoApprove) {
		if err := view.WritePlan(e.stdout, p, false); err != nil {
			return nil, err
		}
		if err := view.WriteShard(e.stdout, p); err != nil {
			return nil, err
		}
	}
	if p.Summary.HasChanges() && !a.AutoApprove {
		if err := confirm(e); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// errNoTerminal refuses to apply without confirmation and says how to
// apply unattended.
var errNoTerminal = fmt.Errorf("refusing to apply without confirmation: standard input is not a terminal.\n" +
	"Run \"imagesync apply --auto-approve\", or save a reviewed plan with \"imagesync plan --out FILE\" and run \"imagesync apply FILE\"")

// confirm asks on the terminal; anything but "yes" cancels (errReported,
// having said so).
func confirm(e *env) error {
	if !e.stdinTTY {
		return errNoTerminal
	}
	view.WriteConfirmPrompt(e.stdout)
	answer, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	if strings.TrimSpace(answer) != "yes" {
		view.WriteApplyCancelled(e.stdout)
		return errReported
	}
	return nil
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

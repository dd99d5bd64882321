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
	w, err := openWorkspace(e, &a.globals, a.MaxWait)
	if err != nil {
		return exitError, err
	}
	// With --format json or markdown, stdout holds the summary alone; the
	// plan, the prompt and the progress go to stderr.
	log := e.stdout
	if a.format != view.Text {
		log = e.stderr
	}
	p, err := a.plan(ctx, e, w, log)
	if err != nil {
		return exitError, err
	}
	if len(p.Pending()) == 0 {
		return exitOK, a.summarize(e, w, &workspace.ApplyResult{Unchanged: p.Summary.Unchanged})
	}
	fmt.Fprintln(log)
	opts := workspace.ApplyOptions{Parallelism: a.Parallelism, ShardWait: a.ShardWait}
	var bars *view.BarProgress
	switch {
	case a.Quiet:
	case e.progressBars() && log == e.stdout && p.Summary.Build+p.Summary.Rebuild == 0:
		bars = view.NewBarProgress(log)
		opts.Progress = bars
	default:
		opts.Progress, opts.BuildOutput = view.NewLineProgress(log), log
	}
	res, err := w.Apply(ctx, p, opts)
	if bars != nil {
		bars.Wait()
	}
	if err != nil {
		return exitError, err
	}
	fmt.Fprintln(log)
	if err := a.summarize(e, w, res); err != nil {
		return exitError, err
	}
	switch {
	case ctx.Err() != nil:
		return exitError, ctx.Err()
	case res.Stopped != nil:
		return exitError, fmt.Errorf("apply stopped: %s asked to wait %s, longer than --max-wait %s; the summary is above", res.Stopped.Host, res.Stopped.Wait, res.Stopped.MaxWait)
	}
	if failed := res.Failed(); failed > 0 {
		return exitError, fmt.Errorf("%s of %d failed to apply; the list is above", view.Plural(failed, "image"), len(res.Results))
	}
	return exitOK, nil
}

// summarize writes what apply did in the chosen format, appends it to the
// job's step summary and annotates the failures.
func (a *applyArgs) summarize(e *env, w *workspace.Workspace, res *workspace.ApplyResult) error {
	md := e.markdownOptions(w)
	var err error
	switch a.format {
	case view.JSON:
		err = view.WriteApplyJSON(e.stdout, res)
	case view.Markdown:
		err = view.WriteApplyMarkdown(e.stdout, res, md)
	default:
		err = view.WriteApplySummary(e.stdout, res)
	}
	gh := e.github()
	gh.appendSummary(func(out io.Writer) error { return view.WriteApplyMarkdown(out, res, md) })
	gh.annotate(view.FailedImageAnnotations(res, w.LockFile(), gh.path(w.LockPath())))
	return err
}

// plan returns the plan to apply: the saved plan, or a new one that the
// user has seen and approved.
func (a *applyArgs) plan(ctx context.Context, e *env, w *workspace.Workspace, log io.Writer) (*diff.Plan, error) {
	if a.PlanFile != "" {
		p, err := w.LoadPlan(ctx, a.PlanFile, a.shard)
		if err != nil {
			return nil, err
		}
		if err := view.WriteApplyingSavedPlan(log, a.PlanFile, p); err != nil {
			return nil, err
		}
		return p, view.WriteShard(log, p)
	}
	p, err := w.Plan(ctx, workspace.PlanOptions{Targets: a.targets, SkipBuilds: a.SkipBuilds, Shard: a.shard, ForApply: true})
	if err != nil {
		return nil, err
	}
	// --quiet prints only the summary, but a plan awaiting confirmation
	// is always shown: nobody approves what they cannot see.
	if !a.Quiet || (p.Summary.HasChanges() && !a.AutoApprove) {
		if err := view.WritePlan(log, p, false); err != nil {
			return nil, err
		}
		if err := view.WriteShard(log, p); err != nil {
			return nil, err
		}
	}
	if p.Summary.HasChanges() && !a.AutoApprove {
		if err := confirm(e, log); err != nil {
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
func confirm(e *env, out io.Writer) error {
	if !e.stdinTTY {
		return errNoTerminal
	}
	view.WriteConfirmPrompt(out)
	answer, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	if strings.TrimSpace(answer) != "yes" {
		view.WriteApplyCancelled(out)
		return errReported
	}
	return nil
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

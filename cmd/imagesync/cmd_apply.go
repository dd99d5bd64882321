package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/view"
)

func runApply(ctx context.Context, e *env, args []string) (int, error) {
	a, err := parseApply(args)
	if err != nil {
		return exitUsage, err
	}
	targets, err := parseRefs("apply --target", a.Targets)
	if err != nil {
		return exitUsage, err
	}
	w, err := loadWorkspace(e, &a.globals)
	if err != nil {
		return exitError, err
	}
	client := registry.New(w.cfg, registry.WithLogger(e.logger))
	var p *diff.Plan
	if a.PlanFile != "" {
		if p, err = savedPlan(ctx, e, w, a.PlanFile, client); err != nil {
			return exitError, err
		}
	} else {
		l, src, err := currentLock(ctx, e, w)
		if err != nil {
			return exitError, err
		}
		if p, err = diff.Make(ctx, l, lock.Sum(src), client, diff.Options{Targets: targets}); err != nil {
			return exitError, err
		}
		if !a.Quiet || p.Summary.HasChanges() {
			if err := view.WritePlan(e.stdout, p, false); err != nil {
				return exitError, err
			}
		}
		if p.Summary.HasChanges() && !a.AutoApprove {
			if ok, err := confirm(e); !ok || err != nil {
				return exitError, err
			}
		}
	}
	pending := p.Pending()
	if len(pending) == 0 {
		return exitOK, view.WriteApplySummary(e.stdout, nil, p.Summary.Unchanged)
	}
	fmt.Fprintln(e.stdout)
	opts := []apply.Option{apply.WithParallelism(a.Parallelism), apply.WithLogger(e.logger)}
	var bars *view.BarProgress
	switch {
	case a.Quiet:
	case e.stdoutTTY:
		bars = view.NewBarProgress(e.stdout)
		opts = append(opts, apply.WithProgress(bars))
	default:
		opts = append(opts, apply.WithProgress(view.NewLineProgress(e.stdout)))
	}
	results := apply.New(client, opts...).Apply(ctx, pending)
	if bars != nil {
		bars.Wait()
	}
	fmt.Fprintln(e.stdout)
	if err := view.WriteApplySummary(e.stdout, results, p.Summary.Unchanged); err != nil {
		return exitError, err
	}
	if ctx.Err() != nil {
		return exitError, ctx.Err()
	}
	for _, r := range results {
		if r.Err != nil {
			return exitError, nil
		}
	}
	return exitOK, nil
}

// savedPlan reads a plan file and refuses it when the lock or a target
// moved since it was made.
func savedPlan(ctx context.Context, e *env, w *workspace, file string, client *registry.Client) (*diff.Plan, error) {
	p, err := diff.ReadPlanFile(file)
	if err != nil {
		return nil, err
	}
	_, src, err := w.loadLock(e)
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, fmt.Errorf("%s does not exist; the saved plan was made from one", w.relLock())
	}
	if err := diff.CheckStale(ctx, p, lock.Sum(src), client); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stdout, "Applying the saved plan %s: %d to create, %d to update.\n", file, p.Summary.Create, p.Summary.Update)
	return p, nil
}

// confirm asks on the terminal; without one it refuses and says how to
// apply unattended.
func confirm(e *env) (bool, error) {
	if !e.stdinTTY {
		return false, fmt.Errorf("refusing to apply without confirmation: standard input is not a terminal.\n" +
			"Run \"imagesync apply --auto-approve\", or save a reviewed plan with \"imagesync plan --out FILE\" and run \"imagesync apply FILE\"")
	}
	fmt.Fprint(e.stdout, "\nDo you want to apply these changes?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	answer, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return false, err
	}
	if strings.TrimSpace(answer) != "yes" {
		fmt.Fprintln(e.stdout, "\nApply cancelled.")
		return false, nil
	}
	return true, nil
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

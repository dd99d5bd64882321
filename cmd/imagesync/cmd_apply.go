package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/build"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/view"
)

func (a *applyArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := loadWorkspace(e, &a.globals)
	if err != nil {
		return exitError, err
	}
	client := registry.New(w.cfg, registry.WithLogger(e.logger))
	cur, err := currentLock(ctx, e, w)
	if err != nil {
		return exitError, err
	}
	p, err := a.plan(ctx, e, w, cur, client)
	if err != nil {
		return exitError, err
	}
	images, builds := split(p.Pending())
	if len(images)+len(builds) == 0 {
		return exitOK, view.WriteApplySummary(e.stdout, nil, p.Summary.Unchanged)
	}
	// A builder that cannot run is found out before anything is pushed.
	var builder build.Builder
	if len(builds) > 0 {
		if builder, err = checkedBuilder(ctx, w); err != nil {
			return exitError, err
		}
	}
	fmt.Fprintln(e.stdout)
	opts := []apply.Option{apply.WithParallelism(a.Parallelism), apply.WithLogger(e.logger), apply.WithKnownImages(knownImages(p))}
	var bars *view.BarProgress
	switch {
	case a.Quiet:
	case e.stdoutTTY && len(builds) == 0:
		bars = view.NewBarProgress(e.stdout)
		opts = append(opts, apply.WithProgress(bars))
	default:
		opts = append(opts, apply.WithProgress(view.NewLineProgress(e.stdout)), apply.WithBuildOutput(e.stdout))
	}
	engine := apply.New(client, opts...)
	results := engine.Apply(ctx, images)
	if bars != nil {
		bars.Wait()
	}
	if len(builds) > 0 {
		env := apply.BuildEnv{Builder: builder, Root: w.cfg.Dir, Lock: cur.lock, Mirrored: results, Current: unchangedBuilds(p)}
		jobs, err := buildJobs(builds, cur)
		if err != nil {
			return exitError, err
		}
		results = append(results, engine.Builds(ctx, env, jobs)...)
	}
	fmt.Fprintln(e.stdout)
	if err := view.WriteApplySummary(e.stdout, results, p.Summary.Unchanged); err != nil {
		return exitError, err
	}
	if ctx.Err() != nil {
		return exitError, ctx.Err()
	}
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
		}
	}
	if failed > 0 {
		return exitError, fmt.Errorf("%s of %d failed to apply; the list is above", view.Plural(failed, "image"), len(results))
	}
	return exitOK, nil
}

// plan returns the plan to apply: the saved plan, or a new one that the
// user has seen and approved.
func (a *applyArgs) plan(ctx context.Context, e *env, w *workspace, cur *current, client *registry.Client) (*diff.Plan, error) {
	if a.PlanFile != "" {
		return savedPlan(ctx, e, w, a.PlanFile, cur, client)
	}
	opts := diff.Options{Targets: a.targets, SkipBuilds: a.SkipBuilds}
	p, err := diff.Make(ctx, cur.lock, lock.Sum(cur.src), client, opts)
	if err != nil {
		return nil, err
	}
	// --quiet prints only the summary, but a plan awaiting confirmation
	// is always shown: nobody approves what they cannot see.
	if !a.Quiet || (p.Summary.HasChanges() && !a.AutoApprove) {
		if err := view.WritePlan(e.stdout, p, false); err != nil {
			return nil, err
		}
	}
	if p.Summary.HasChanges() && !a.AutoApprove {
		ok, err := confirm(e)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errReported // confirm said "Apply cancelled."
		}
	}
	return p, nil
}

// checkedBuilder returns the configured builder once it has shown that it
// can run.
func checkedBuilder(ctx context.Context, w *workspace) (build.Builder, error) {
	builder, err := build.New(build.Kind(w.cfg.Builder.Kind), build.WithExtraArgs(w.cfg.Builder.Args))
	if err != nil {
		return nil, err
	}
	if err := builder.Check(ctx); err != nil {
		return nil, err
	}
	return builder, nil
}

// knownImages are the images the plan leaves unchanged: the target holds
// them, and the engine may mount their blobs.
func knownImages(p *diff.Plan) []apply.Known {
	var out []apply.Known
	for _, c := range p.Changes {
		if c.Kind != diff.KindBuild && c.Action == diff.NoOp {
			out = append(out, apply.Known{Target: c.Target, Digest: digest.Digest(c.Digest)})
		}
	}
	return out
}

// split separates the image copies from the builds.
func split(changes []diff.Change) (images, builds []diff.Change) {
	for _, c := range changes {
		if c.Kind == diff.KindBuild {
			builds = append(builds, c)
		} else {
			images = append(images, c)
		}
	}
	return images, builds
}

// buildJobs joins the planned builds with what discovery knows of them.
func buildJobs(changes []diff.Change, cur *current) ([]apply.BuildJob, error) {
	var jobs []apply.BuildJob
	for _, c := range changes {
		ref, err := imageref.Parse(c.Source)
		if err != nil {
			return nil, err
		}
		locked := cur.lock.Build(ref)
		var found *apply.BuildJob
		for _, b := range cur.found.Builds {
			if b.Ref == ref && locked != nil {
				found = &apply.BuildJob{Change: c, Build: b, Locked: *locked}
			}
		}
		if found == nil {
			return nil, fmt.Errorf("build %s is in the plan but not in images.lock and the repository", c.Source)
		}
		jobs = append(jobs, *found)
	}
	return jobs, nil
}

// unchangedBuilds maps the builds the plan leaves alone to their digest in
// the target, for builds based on them.
func unchangedBuilds(p *diff.Plan) map[imageref.Ref]digest.Digest {
	out := map[imageref.Ref]digest.Digest{}
	for _, c := range p.Changes {
		if c.Kind == diff.KindBuild && c.Action == diff.NoOp {
			if ref, err := imageref.Parse(c.Source); err == nil {
				out[ref] = digest.Digest(c.CurrentDigest)
			}
		}
	}
	return out
}

// savedPlan reads a plan file and refuses it when the lock or a target
// moved since it was made.
func savedPlan(ctx context.Context, e *env, w *workspace, file string, cur *current, client *registry.Client) (*diff.Plan, error) {
	p, err := diff.ReadPlanFile(file)
	if err != nil {
		return nil, err
	}
	if err := diff.CheckStale(ctx, p, lock.Sum(cur.src), client); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stdout, "Applying the saved plan %s: %s", file, strings.TrimPrefix(view.SummaryLine(p), "Plan: "))
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

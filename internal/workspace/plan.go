package workspace

import (
	"context"
	"fmt"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/verify"
)

// PlanOptions control Plan.
type PlanOptions struct {
	// Targets limits the plan to these images (source or target
	// references); empty means all.
	Targets []imageref.Ref
	// SkipBuilds leaves the repository's own builds out.
	SkipBuilds bool
	// Out, when set, is where the plan is saved for `apply FILE`.
	Out string
	// Shard, when set, splits the plan into Shard.N parts by target
	// repository and returns part Shard.K; the saved plan holds every
	// part, so that one file serves the N runners.
	Shard diff.Shard
	// ForApply dials connections to the sources ahead while the target is
	// asked (registry.Client.Preconnect): the plan is to be carried out
	// at once. No request goes to a source.
	ForApply bool
	// Upstream asks the source registry, with one HEAD, what the tag of
	// each image to create or update points at now, to mark a locked
	// digest it does not (diff.Change.Unusual). Review sets it.
	Upstream bool
}

// Plan compares images.lock, which must be current, with the target
// registry and returns what apply would do; with Out it saves the plan
// too, atomically.
func (w *Workspace) Plan(ctx context.Context, opts PlanOptions) (*diff.Plan, error) {
	_, p, err := w.makePlan(ctx, opts)
	if err != nil {
		return nil, err
	}
	return finishPlan(p, opts)
}

// makePlan plans the current lock against the target registry; the lock
// is returned too, for a plan made otherwise when the target cannot be
// read.
func (w *Workspace) makePlan(ctx context.Context, opts PlanOptions) (*current, *diff.Plan, error) {
	cur, err := w.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	if opts.ForApply {
		var sources []imageref.Ref
		for _, img := range cur.file.Lock.Images {
			sources = append(sources, img.Ref)
		}
		w.registry().Preconnect(sources)
	}
	do := opts.diffOptions()
	do.Referrers = w.registry()
	if opts.Upstream {
		do.Upstream = w.registry()
	}
	p, err := diff.Make(ctx, cur.file.Lock, cur.file.Sum(), w.registry(), do)
	if p != nil {
		p.TargetRegistry = w.cfg.Target.Registry
	}
	return cur, p, err
}

func (o PlanOptions) diffOptions() diff.Options {
	return diff.Options{Targets: o.Targets, SkipBuilds: o.SkipBuilds}
}

// finishPlan splits the plan into parts when opts.Shard asks for it,
// saves it (every part: one file serves the N runners) when opts.Out is
// set, and returns the part asked for, or the whole plan.
func finishPlan(p *diff.Plan, opts PlanOptions) (*diff.Plan, error) {
	out := opts.Out
	if !opts.Shard.IsZero() {
		if err := p.Partition(opts.Shard.N); err != nil {
			return nil, err
		}
	}
	if out != "" {
		if err := diff.SavePlan(out, p); err != nil {
			return nil, err
		}
	}
	if !opts.Shard.IsZero() {
		return p.Part(opts.Shard)
	}
	return p, nil
}

// LoadPlan reads a plan saved with Plan's Out and refuses it when
// images.lock changed since, when a change is not what images.lock says
// (diff.CheckSaved: the file may have been edited), or when a target
// moved since the plan was made.
// With a shard it returns that part of the plan (split as the plan was,
// or by diff.ShardOf when the plan was saved whole) and checks only the
// part's own targets: the other parts' runners are pushing theirs.
func (w *Workspace) LoadPlan(ctx context.Context, file string, shard diff.Shard) (*diff.Plan, error) {
	cur, err := w.current(ctx)
	if err != nil {
		return nil, err
	}
	p, err := diff.LoadPlan(file)
	if err != nil {
		return nil, err
	}
	if nc := p.NotCompared; nc != nil {
		return nil, fmt.Errorf("the saved plan %s compared %s with %s, not with the target registry: make the plan with credentials for the target to apply it",
			file, w.LockName(), nc.BaseLock)
	}
	// The plan file is untrusted (an artifact passed between jobs): every
	// change must be what images.lock says before any request is sent.
	if err := diff.CheckSaved(p, cur.file); err != nil {
		return nil, err
	}
	p.TargetRegistry = w.cfg.Target.Registry
	if !shard.IsZero() {
		if p, err = p.Part(shard); err != nil {
			return nil, fmt.Errorf("read saved plan %s: %w", file, err)
		}
	}
	// The plan is carried out next: connections to its sources are
	// dialled while its targets are checked again (no request is sent).
	var sources []imageref.Ref
	for _, c := range p.Pending() {
		if c.Kind == diff.KindImage {
			sources = append(sources, c.Source)
		}
	}
	w.registry().Preconnect(sources)
	if err := diff.CheckStale(ctx, p, cur.file.Sum(), w.registry()); err != nil {
		return nil, err
	}
	return p, nil
}

// Verify audits the target registry against images.lock, changing
// nothing; deep checks every child manifest and blob too.
func (w *Workspace) Verify(ctx context.Context, opts verify.Options) (*verify.Report, error) {
	l, err := w.LockedImages()
	if err != nil {
		return nil, err
	}
	opts.Referrers = w.registry()
	return verify.Check(ctx, l, w.registry(), opts)
}

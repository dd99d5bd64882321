package workspace

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/build"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/registry"
)

// ApplyOptions control Apply.
type ApplyOptions struct {
	// Parallelism is how many images are copied at once; 0 sizes it to
	// the link (apply.WithParallelism).
	Parallelism int
	// Progress receives what the engine does; the default discards it.
	Progress apply.Progress
	// BuildOutput receives the builders' output, prefixed by service;
	// the default discards it.
	BuildOutput io.Writer
	// ShardWait bounds how long a build of one part of a split plan waits
	// for a base that another part pushes; apply.DefaultShardWait when 0.
	ShardWait time.Duration
}

// ApplyResult is what Apply did: one result per change it acted on,
// images first, then builds in dependency order.
type ApplyResult struct {
	Results   []apply.Result
	Unchanged int // changes of the plan left alone
	// Stopped is the request of a registry to wait longer than allowed
	// (--max-wait) that stopped the run; the results of what did not
	// start wrap apply.ErrNotStarted. Nil when the run went to its end.
	Stopped *registry.WaitTooLongError
}

// Failed counts the results with an error, or with referrers that could
// not be copied.
func (r *ApplyResult) Failed() int {
	n := 0
	for _, res := range r.Results {
		if res.Err != nil || len(res.ReferrerFailures) > 0 {
			n++
		}
	}
	return n
}

// Apply carries out a plan: the image copies, then the builds. A builder
// that cannot run is reported before anything is pushed. A failed image
// does not stop the others; it is in its Result.
func (w *Workspace) Apply(ctx context.Context, p *diff.Plan, opts ApplyOptions) (*ApplyResult, error) {
	res := &ApplyResult{Unchanged: p.Summary.Unchanged}
	images, builds := splitBuilds(p.Pending())
	if len(images)+len(builds) == 0 {
		return res, nil
	}
	cur, err := w.current(ctx)
	if err != nil {
		return nil, err
	}
	var builder build.Builder
	if len(builds) > 0 {
		if builder, err = w.checkedBuilder(ctx); err != nil {
			return nil, err
		}
	}
	engine := apply.New(w.registry(), apply.WithParallelism(opts.Parallelism), apply.WithLogger(w.logger),
		apply.WithKnownImages(knownImages(p)), apply.WithProgress(opts.Progress), apply.WithBuildOutput(opts.BuildOutput),
		apply.WithShardWait(cmp.Or(opts.ShardWait, apply.DefaultShardWait)))
	res.Results = engine.Apply(ctx, images)
	res.Stopped = stoppedBy(res.Results)
	if res.Stopped != nil {
		for _, b := range builds {
			res.Results = append(res.Results, apply.Result{Change: b, Err: fmt.Errorf("%w: %w", apply.ErrNotStarted, res.Stopped)})
		}
		return res, nil
	}
	if len(builds) > 0 {
		jobs, err := buildJobs(builds, cur)
		if err != nil {
			return nil, err
		}
		env := apply.BuildEnv{Builder: builder, Root: w.cfg.Dir, Lock: cur.file.Lock, Mirrored: res.Results, Current: unchangedBuilds(p),
			Elsewhere: elsewhere(p)}
		res.Results = append(res.Results, engine.Builds(ctx, env, jobs)...)
	}
	return res, nil
}

// stoppedBy returns the wait that stopped the run, if one did.
func stoppedBy(results []apply.Result) *registry.WaitTooLongError {
	for _, r := range results {
		var wait *registry.WaitTooLongError
		if errors.As(r.Err, &wait) {
			return wait
		}
	}
	return nil
}

// checkedBuilder returns the configured builder once it has shown that it
// can run.
func (w *Workspace) checkedBuilder(ctx context.Context) (build.Builder, error) {
	builder, err := build.New(build.Kind(w.cfg.Builder.Kind), build.WithExtraArgs(w.cfg.Builder.Args))
	if err != nil {
		return nil, err
	}
	if err := builder.Check(ctx); err != nil {
		return nil, err
	}
	return builder, nil
}

// knownImages are the images the plan leaves unchanged, in every part of
// a split plan: the target holds them, and the engine may mount their
// blobs.
func knownImages(p *diff.Plan) []apply.Known {
	var out []apply.Known
	for _, c := range slices.Concat(p.Changes, p.Elsewhere) {
		if c.Kind == diff.KindImage && c.Action == diff.NoOp {
			out = append(out, apply.Known{Target: c.Target, Digest: c.TargetDigest()})
		}
	}
	return out
}

// splitBuilds separates the image copies from the builds.
func splitBuilds(changes []diff.Change) (images, builds []diff.Change) {
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
		locked := cur.file.Lock.Build(c.Source)
		var job *apply.BuildJob
		for _, b := range cur.found.Builds {
			if b.Ref == c.Source && locked != nil {
				job = &apply.BuildJob{Change: c, Build: b, Locked: *locked}
			}
		}
		if job == nil {
			return nil, fmt.Errorf("build %s is in the plan but not in images.lock and the repository", c.Source)
		}
		jobs = append(jobs, *job)
	}
	return jobs, nil
}

// unchangedBuilds maps the builds the plan leaves alone to their digest in
// the target, for builds based on them.
func unchangedBuilds(p *diff.Plan) map[imageref.Ref]digest.Digest {
	out := map[imageref.Ref]digest.Digest{}
	for _, c := range slices.Concat(p.Changes, p.Elsewhere) {
		if c.Kind == diff.KindBuild && c.Action == diff.NoOp {
			out[c.Source] = c.CurrentDigest
		}
	}
	return out
}

// elsewhere are the changes other parts of a split plan act on, by source:
// builds of this part wait for those they are based on.
func elsewhere(p *diff.Plan) map[imageref.Ref]diff.Change {
	out := map[imageref.Ref]diff.Change{}
	for _, c := range p.Elsewhere {
		if c.Action != diff.NoOp {
			out[c.Source] = c
		}
	}
	return out
}

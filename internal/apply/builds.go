package apply

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/build"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/repofs"
)

// BuildJob is one build of the plan with what discovery knows about it.
type BuildJob struct {
	Change diff.Change
	Build  discover.Build // context, Dockerfile, arguments, scan
	Locked lock.Build     // bases, target, inputs
}

// BuildEnv is what builds need besides the jobs.
type BuildEnv struct {
	Builder build.Builder
	Root    string     // the repository (directory of images.hcl)
	Lock    *lock.Lock // for the locked digests of the bases
	// Mirrored are the results of this run's image copies: a build whose
	// base failed to land fails too.
	Mirrored []Result
	// Current maps builds the plan leaves unchanged to the digest their
	// target holds, for builds based on them.
	Current map[imageref.Ref]digest.Digest
	// Elsewhere are the images and builds that other parts of a split plan
	// push (diff.Plan.Part), by source: a build based on one of them waits
	// until the target holds it (WithShardWait bounds the wait).
	Elsewhere map[imageref.Ref]diff.Change
}

// Builds runs the builds once every base they need is in the target
// registry at its locked digest: images must have been mirrored first; a
// build based on another build of the repository waits for it. Each build
// runs from the target registry by digest, never from an upstream tag,
// and its result is checked on the target (digest and inputs label).
//
// Results come in dependency order (a build after the builds it is based on).
func (e *Engine) Builds(ctx context.Context, env BuildEnv, jobs []BuildJob) []Result {
	jobs = orderJobs(jobs)
	run := &buildRun{engine: e, env: env, failedImages: map[imageref.Ref]error{}, outcomes: map[imageref.Ref]*buildOutcome{}}
	for _, r := range env.Mirrored {
		if r.Err != nil {
			run.failedImages[r.Change.Source] = r.Err
		}
	}
	for _, j := range jobs {
		run.outcomes[j.Locked.Ref] = &buildOutcome{done: make(chan struct{})}
	}
	results := make([]Result, len(jobs))
	var g errgroup.Group
	g.SetLimit(e.opts.buildParallelism)
	for i, j := range jobs {
		// Jobs start in dependency order, so a job waiting for another
		// one never holds the slot that one needs.
		g.Go(func() error {
			out := run.outcomes[j.Locked.Ref]
			defer close(out.done)
			start := time.Now()
			e.opts.progress.Started(j.Change)
			pins, err := run.pins(ctx, j)
			if err == nil {
				out.digest, err = e.runBuild(ctx, env, j, pins)
			}
			out.err = err
			results[i] = Result{Change: j.Change, Duration: time.Since(start), Err: err}
			e.opts.progress.Finished(results[i])
			return nil
		})
	}
	_ = g.Wait()
	return results
}

// buildOutcome is what became of one build of this run; digest and err
// are set before done is closed.
type buildOutcome struct {
	done   chan struct{}
	digest digest.Digest
	err    error
}

// buildRun is the state the builds of one run share: what they produced,
// and which mirrored images failed to land.
type buildRun struct {
	engine       *Engine
	env          BuildEnv
	failedImages map[imageref.Ref]error
	outcomes     map[imageref.Ref]*buildOutcome // the builds of this run
}

// await waits for this run's build of ref and returns its outcome; nil
// when this run does not build ref.
func (r *buildRun) await(ctx context.Context, ref imageref.Ref) (*buildOutcome, error) {
	o, ok := r.outcomes[ref]
	if !ok {
		return nil, nil
	}
	select {
	case <-o.done:
		return o, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// orderJobs sorts jobs so that every build comes after the builds it is
// based on; with bounded parallelism a waiting job then never blocks the
// one it waits for.
func orderJobs(jobs []BuildJob) []BuildJob {
	byRef := map[imageref.Ref]BuildJob{}
	for _, j := range jobs {
		byRef[j.Locked.Ref] = j
	}
	var out []BuildJob
	seen := map[imageref.Ref]bool{}
	var visit func(j BuildJob)
	visit = func(j BuildJob) {
		if seen[j.Locked.Ref] {
			return
		}
		seen[j.Locked.Ref] = true
		for _, base := range j.Locked.Bases {
			if dep, ok := byRef[base]; ok {
				visit(dep)
			}
		}
		out = append(out, j)
	}
	sorted := slices.Clone(jobs)
	slices.SortFunc(sorted, func(a, b BuildJob) int { return imageref.Compare(a.Locked.Ref, b.Locked.Ref) })
	for _, j := range sorted {
		visit(j)
	}
	return out
}

// pins maps every base the Dockerfile names to the target registry by
// digest: the locked digest of a mirrored image, the pushed digest of a
// build of this run, or the digest in the target of an unchanged build.
func (r *buildRun) pins(ctx context.Context, j BuildJob) (map[string]string, error) {
	pins := map[string]string{}
	for _, f := range j.Build.Scan {
		ref := f.Ref
		if _, done := pins[ref.String()]; done {
			continue
		}
		var target imageref.Ref
		var d digest.Digest
		switch img, b := r.env.Lock.Image(ref), r.env.Lock.Build(ref); {
		case img != nil:
			if err := r.failedImages[ref]; err != nil {
				return nil, fmt.Errorf("base %s did not land in the target: %w", ref, err)
			}
			target, d = img.Target, img.TargetDigest()
			if c, ok := r.env.Elsewhere[ref]; ok {
				if _, err := r.engine.awaitElsewhere(ctx, c); err != nil {
					return nil, err
				}
			}
		case b != nil:
			target = b.Target
			var err error
			if d, err = r.builtDigest(ctx, ref); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("base %s (%s) is not in images.lock: run \"imagesync lock\"", ref, f.Locator)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		pins[ref.String()] = target.Repository() + "@" + d.String()
	}
	return pins, nil
}

// builtDigest is the digest a base built by the repository has in the
// target: pushed by this run (waiting for it), or left there unchanged.
func (r *buildRun) builtDigest(ctx context.Context, ref imageref.Ref) (digest.Digest, error) {
	o, err := r.await(ctx, ref)
	switch {
	case err != nil:
		return "", err
	case o != nil && o.err != nil:
		return "", fmt.Errorf("base %s (built by this repository) failed: %w", ref, o.err)
	case o != nil:
		return o.digest, nil
	}
	if cur, ok := r.env.Current[ref]; ok {
		return cur, nil
	}
	if c, ok := r.env.Elsewhere[ref]; ok {
		return r.engine.awaitElsewhere(ctx, c)
	}
	return "", fmt.Errorf("base %s (built by this repository) is not in the target", ref)
}

// runBuild builds and pushes one image, then checks the target.
func (e *Engine) runBuild(ctx context.Context, env BuildEnv, j BuildJob, pins map[string]string) (digest.Digest, error) {
	dockerfile := j.Build.Inline
	if dockerfile == nil {
		var err error
		if dockerfile, err = readDockerfile(env.Root, j.Build.Dockerfile); err != nil {
			return "", fmt.Errorf("read %s: %w", j.Build.Dockerfile, err)
		}
	}
	ep, err := e.client.TargetRepository(j.Locked.Target)
	if err != nil {
		return "", err
	}
	req := build.Request{
		Service:        j.Build.Name(), // the first of the services sharing the build prefixes its output
		ContextDir:     filepath.Join(env.Root, filepath.FromSlash(j.Build.Context)),
		Dockerfile:     dockerfile,
		DockerfileName: j.Build.Dockerfile,
		Args:           j.Build.Args,
		Target:         j.Build.TargetStage,
		Platforms:      j.Build.Platforms,
		Labels:         map[string]string{lock.InputsLabel: j.Locked.Inputs.String()},
		Tag:            j.Locked.Target.String(),
		Pins:           pins,
		Scan:           j.Build.Scan,
		Insecure:       ep.Insecure(),
		Output:         e.opts.buildOutput,
	}
	d, err := env.Builder.Build(ctx, req)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", j.Build.Name(), err)
	}
	head, labels, err := e.client.TargetLabels(ctx, j.Locked.Target)
	if err != nil {
		return "", fmt.Errorf("check %s after the build: %w", j.Locked.Target, err)
	}
	if head.Digest != d {
		return "", fmt.Errorf("check %s after the build: it resolves to %s, not the pushed %s", j.Locked.Target, head.Digest, d)
	}
	if labels[lock.InputsLabel] != j.Locked.Inputs.String() {
		return "", fmt.Errorf("check %s after the build: label %s is %q, not %s", j.Locked.Target, lock.InputsLabel, labels[lock.InputsLabel], j.Locked.Inputs)
	}
	return d, nil
}

// readDockerfile reads a build's Dockerfile (a slash path relative to
// root) under the repository's rule, as discovery read it.
func readDockerfile(root, name string) ([]byte, error) {
	repo, err := repofs.Open(root)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	return repo.ReadFile(name)
}

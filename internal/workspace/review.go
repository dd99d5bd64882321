package workspace

import (
	"context"
	"errors"
	"fmt"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/preflight"
	"github.com/imagesync/imagesync/internal/registry"
)

// ReviewOptions control Review.
type ReviewOptions struct {
	PlanOptions
	// NoPreflight skips the checks of the target repositories and the
	// HEAD that reads each source registry's rate limit; the pulls are
	// still counted, which needs no request.
	NoPreflight bool
	// BaseLock is the lock of the base branch, compared with images.lock
	// instead of the target when the target cannot be read for want of
	// credentials (a pull request from a fork gets none).
	BaseLock string
}

// Review is the plan a reviewer reads (`imagesync plan`): Plan, with its
// preflight, so that what would make apply fail is found now and not at
// merge time, and with the tag of each image to create or update asked
// upstream, so that a locked digest the tag does not point at is marked. When the target refuses to be read without credentials and
// BaseLock is given, images.lock is compared with that lock instead, and
// the plan says the target was not compared. With Out the plan is saved,
// atomically; apply refuses a plan that did not compare the target.
func (w *Workspace) Review(ctx context.Context, opts ReviewOptions) (*diff.Plan, error) {
	opts.Upstream = true
	cur, p, err := w.makePlan(ctx, opts.PlanOptions)
	var aerr *registry.AuthError
	switch {
	case errors.As(err, &aerr) && aerr.Anonymous && opts.BaseLock != "":
		var base *lock.Lock
		if base, err = w.baseLock(opts.BaseLock); err == nil {
			nc := diff.NotCompared{Reason: aerr.Error(), BaseLock: opts.BaseLock}
			p, err = diff.AgainstLock(cur.file.Lock, cur.file.Sum(), base, nc, opts.diffOptions())
		}
		if err == nil {
			// A fork's pull request, which edits images.lock, is where an
			// unusual digest matters most.
			p.TargetRegistry = w.cfg.Target.Registry
			err = diff.CheckUpstream(ctx, p, w.registry())
		}
	case errors.As(err, &aerr) && aerr.Anonymous:
		err = fmt.Errorf("%w\nWithout credentials for the target (a pull request from a fork), \"imagesync plan --base-lock FILE\" compares %s with the base branch's lock instead", err, w.LockName())
	}
	if err != nil {
		return nil, err
	}
	p.Preflight = preflight.Run(ctx, p, w.registry(), preflight.Options{
		CheckTargets: !opts.NoPreflight && p.NotCompared == nil, ReadRateLimits: !opts.NoPreflight})
	return finishPlan(p, opts.PlanOptions)
}

// baseLock reads the base branch's lock; an empty file is an empty lock
// (a base branch without images.lock).
func (w *Workspace) baseLock(name string) (*lock.Lock, error) {
	f, diags := lock.Load(w.parser, name)
	switch {
	case diags.HasErrors():
		return nil, &DiagnosticsError{Files: w.Files(), Diags: diags}
	case f == nil:
		return nil, fmt.Errorf("--base-lock %s: no such file", name)
	}
	return f.Lock, nil
}

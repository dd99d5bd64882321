package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/imagesync/imagesync/internal/view"
	"github.com/imagesync/imagesync/internal/workspace"
)

func (a *lockArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := openWorkspace(e, &a.globals, a.MaxWait)
	if err != nil {
		return exitError, err
	}
	if a.Check {
		return a.check(ctx, e, w)
	}
	res, err := w.Lock(ctx, workspace.LockOptions{Upgrade: a.Upgrade, Only: a.only,
		OnWait: func(holder string) { view.WriteLockWait(e.stderr, holder, w.LockName()) }})
	if err != nil {
		return exitError, err
	}
	return exitOK, view.WriteLockChanges(e.stdout, w.LockName(), res.Lock, res.Changes, res.Created)
}

// check runs lock --check. In JSON and markdown the result, stale or not,
// is the document on stdout; a stale lock is still an error (exit 1,
// with the differences on stderr).
func (a *lockArgs) check(ctx context.Context, e *env, w *workspace.Workspace) (int, error) {
	l, err := w.CheckLock(ctx)
	var stale *workspace.StaleLockError
	if err != nil && !errors.As(err, &stale) {
		return exitError, err
	}
	c := view.LockCheck{LockName: w.LockName(), Lock: l, Stale: stale, Fix: e.fixLock, Online: a.Online && stale == nil}
	if c.Online {
		if c.Upstream, err = w.CheckLockUpstream(ctx); err != nil {
			return exitError, err
		}
	}
	var werr error
	switch a.format {
	case view.JSON:
		werr = view.WriteLockCheckJSON(e.stdout, c)
	case view.Markdown:
		c.LockName = e.markdownOptions(w).LockName
		werr = view.WriteLockCheckMarkdown(e.stdout, c, e.markdownOptions(w))
	case view.Text:
		if stale == nil {
			werr = view.WriteLockUpToDate(e.stdout, w.LockName(), l)
		}
		if c.Online && werr == nil {
			werr = view.WriteLockUpstream(e.stdout, l, c.Upstream)
		}
	}
	switch {
	case err != nil:
		return exitError, err
	case werr != nil:
		return exitError, werr
	case len(c.Upstream) > 0:
		return exitError, fmt.Errorf("lock --check --online: %s; the list is above", view.UpstreamProblems(c.Upstream))
	}
	return exitOK, nil
}

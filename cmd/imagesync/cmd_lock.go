package main

import (
	"context"

	"github.com/imagesync/imagesync/internal/view"
	"github.com/imagesync/imagesync/internal/workspace"
)

func (a *lockArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := openWorkspace(e, &a.globals)
	if err != nil {
		return exitError, err
	}
	if a.Check {
		l, err := w.CheckLock(ctx)
		if err != nil {
			return exitError, err
		}
		return exitOK, view.WriteLockUpToDate(e.stdout, w.LockName(), l)
	}
	res, err := w.Lock(ctx, workspace.LockOptions{Upgrade: a.Upgrade, Only: a.only,
		OnWait: func(holder string) { view.WriteLockWait(e.stderr, holder, w.LockName()) }})
	if err != nil {
		return exitError, err
	}
	return exitOK, view.WriteLockChanges(e.stdout, w.LockName(), res.Lock, res.Changes, res.Created)
}

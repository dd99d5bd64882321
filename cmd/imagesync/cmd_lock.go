package main

import (
	"context"
	"fmt"

	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/view"
)

func (a *lockArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := loadWorkspace(e, &a.globals)
	if err != nil {
		return exitError, err
	}
	if !a.Check {
		// Read, resolve and write under the file lock: a second run at
		// once waits, then starts from what this one wrote.
		fl, err := lock.Acquire(ctx, w.lockPath, func(holder string) {
			fmt.Fprintf(e.stderr, "Waiting for another imagesync (%s) to finish with %s...\n", holder, w.relLock())
		})
		if err != nil {
			return exitError, err
		}
		defer fl.Release()
	}
	found, err := w.discover(ctx)
	if err != nil {
		return exitError, err
	}
	old, oldSrc, err := w.loadLock(e)
	if err != nil {
		return exitError, err
	}
	if a.Check {
		return checkLock(e, w, found, old)
	}
	for _, r := range a.only {
		if old == nil || old.Image(r) == nil {
			return exitError, fmt.Errorf("lock --upgrade %s: not in %s", r, w.relLock())
		}
	}
	client := registry.New(w.cfg, registry.WithLogger(e.logger))
	next, changes, err := lock.Update(ctx, w.cfg, found, old, client,
		lock.UpdateOptions{Upgrade: a.Upgrade, UpgradeOnly: a.only})
	if err != nil {
		return exitError, err
	}
	data := lock.Format(next)
	if string(data) != string(oldSrc) {
		if err := lock.WriteFile(w.lockPath, data); err != nil {
			return exitError, err
		}
	}
	view.WriteLockChanges(e.stdout, w.relLock(), next, changes, old == nil)
	return exitOK, nil
}

// checkLock compares images.lock with the config and files without
// network I/O, as CI does in pull-request checks.
func checkLock(e *env, w *workspace, found *discover.Result, old *lock.Lock) (int, error) {
	stale, err := reportStale(e, w, found, old)
	if err != nil {
		return exitError, err
	}
	if stale {
		return exitError, nil
	}
	fmt.Fprintf(e.stdout, "%s is up to date: %d images, %d builds.\n", w.relLock(), len(old.Images), len(old.Builds))
	return exitOK, nil
}

// reportStale writes why images.lock does not match the config and files,
// ending with the command that fixes it, and reports whether it is stale.
// plan and apply use it too, so that all three refuse a stale lock with the
// same message.
func reportStale(e *env, w *workspace, found *discover.Result, old *lock.Lock) (bool, error) {
	const hint = `run "imagesync lock" to update images.lock`
	if old == nil {
		view.WriteError(e.stderr, fmt.Errorf("%s does not exist\n%s", w.relLock(), hint))
		return true, nil
	}
	changes, err := lock.Check(w.cfg, found, old)
	if err != nil {
		return false, err
	}
	if len(changes) == 0 {
		return false, nil
	}
	view.WriteStaleLock(e.stderr, w.relLock(), changes)
	fmt.Fprintln(e.stderr, hint)
	return true, nil
}

// current is a lock known to match the config and files, with what
// discovery found (builds need it).
type current struct {
	found *discover.Result
	lock  *lock.Lock
	src   []byte
}

// currentLock loads images.lock and refuses it when it is stale.
func currentLock(ctx context.Context, e *env, w *workspace) (*current, error) {
	found, err := w.discover(ctx)
	if err != nil {
		return nil, err
	}
	l, src, err := w.loadLock(e)
	if err != nil {
		return nil, err
	}
	stale, err := reportStale(e, w, found, l)
	if err != nil {
		return nil, err
	}
	if stale {
		return nil, errReported
	}
	return &current{found: found, lock: l, src: src}, nil
}

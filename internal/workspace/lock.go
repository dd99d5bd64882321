package workspace

import (
	"context"
	"fmt"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/lock/resolve"
	"github.com/imagesync/imagesync/internal/referrers"
)

// LockOptions control Lock.
type LockOptions struct {
	// Upgrade resolves every tag again (or only those in Only).
	Upgrade bool
	// Only limits Upgrade to these locked references.
	Only []imageref.Ref
	// OnWait is called when another imagesync holds the lockfile's lock,
	// with what it says of its holder; the default does nothing.
	OnWait func(holder string)
}

// LockResult is what Lock did.
type LockResult struct {
	Lock    *lock.Lock
	Changes []lock.Change
	Created bool // there was no lockfile before
}

// Lock discovers the repository's images, resolves new ones (or all, with
// Upgrade) to digests and writes images.lock atomically when it changed.
// It holds a file lock from reading the lockfile to writing it, so that
// two runs at once never leave a mixed lockfile.
func (w *Workspace) Lock(ctx context.Context, opts LockOptions) (*LockResult, error) {
	fl, err := lock.Acquire(ctx, w.lockPath, opts.OnWait)
	if err != nil {
		return nil, err
	}
	defer fl.Release()
	found, err := w.Discover(ctx)
	if err != nil {
		return nil, err
	}
	old, err := w.loadLock()
	if err != nil {
		return nil, err
	}
	var oldLock *lock.Lock
	var oldSrc []byte
	if old != nil {
		oldLock, oldSrc = old.Lock, old.Source
	}
	for _, r := range opts.Only {
		if oldLock == nil || oldLock.Image(r) == nil {
			return nil, fmt.Errorf("lock --upgrade %s: not in %s", r, w.LockName())
		}
	}
	next, changes, err := resolve.Update(ctx, w.cfg, found, oldLock, w.registry(),
		resolve.Options{Upgrade: opts.Upgrade, UpgradeOnly: opts.Only, Scope: referrers.NewFinder(w.registry())})
	if err != nil {
		return nil, err
	}
	if data := lock.Format(next); string(data) != string(oldSrc) {
		if err := lock.WriteFile(w.lockPath, data); err != nil {
			return nil, err
		}
	}
	return &LockResult{Lock: next, Changes: changes, Created: old == nil}, nil
}

// CheckLock compares images.lock with the config and files, without any
// network I/O and writing nothing, as pull-request checks do. A lock that
// does not match is a *StaleLockError.
func (w *Workspace) CheckLock(ctx context.Context) (*lock.Lock, error) {
	cur, err := w.current(ctx)
	if err != nil {
		return nil, err
	}
	return cur.file.Lock, nil
}

// CheckLockUpstream asks upstream what the tag of every image of the
// current images.lock points at now (one HEAD each, bounded fan-out), for
// `lock --check --online`, and returns the images whose locked digest is
// not that one, or whose tag could not be asked; references pinned by
// digest are exempt. A stale lock is a *StaleLockError first.
func (w *Workspace) CheckLockUpstream(ctx context.Context) ([]diff.LockedUpstream, error) {
	cur, err := w.current(ctx)
	if err != nil {
		return nil, err
	}
	return diff.CheckLockUpstream(ctx, cur.file.Lock, w.registry())
}

// current is images.lock known to match the config and files, with what
// discovery found (builds need it).
type current struct {
	found *discover.Result
	file  *lock.File
}

// current discovers, loads images.lock and refuses it when it is stale;
// the result is kept for the operations that follow.
func (w *Workspace) current(ctx context.Context) (*current, error) {
	if w.cur != nil {
		return w.cur, nil
	}
	found, err := w.Discover(ctx)
	if err != nil {
		return nil, err
	}
	f, err := w.loadLock()
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, &StaleLockError{LockName: w.LockName(), Missing: true}
	}
	changes, err := resolve.Check(w.cfg, found, f.Lock)
	if err != nil {
		return nil, err
	}
	if len(changes) > 0 {
		return nil, &StaleLockError{LockName: w.LockName(), Changes: changes}
	}
	w.cur = &current{found: found, file: f}
	return w.cur, nil
}

//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/imagesync/imagesync/internal/excerpt"
	"github.com/imagesync/imagesync/internal/repofs"
)

// FileLock is an advisory lock (flock(2)) that "imagesync lock" holds
// around reading images.lock, resolving and writing it. WriteFile alone
// already makes every write whole (temporary file and rename), so no run
// ever reads a torn file; the lock adds that two runs at once are
// serialized: the second reads what the first wrote, instead of both
// starting from the same images.lock and the last writer undoing the
// other's changes (two "lock --upgrade" of different images).
//
// The lock is taken on a sidecar file next to the lockfile
// (images.lock.lock), not on the lockfile, which WriteFile replaces by
// rename. The sidecar holds the holder's pid, for the message of a
// waiting run, and is removed on Release. A repository can commit a
// sidecar of its own: it is opened without following links (O_NOFOLLOW)
// and must be a regular file, so that lock never truncates and writes a
// file the link points to, nor waits on a FIFO.
type FileLock struct {
	f    *os.File
	path string
}

// lockPollInterval is how often a waiting Acquire tries again. Polling a
// non-blocking flock keeps the wait cancellable through ctx.
const lockPollInterval = 25 * time.Millisecond

// SidecarPath is the file that Acquire locks for lockfile.
func SidecarPath(lockfile string) string { return lockfile + ".lock" }

// Acquire takes the lock of lockfile, waiting while another process (or
// another Acquire in this one) holds it, until ctx ends. onWait, when not
// nil, is called once if the lock is busy, with the holder's pid as it
// wrote it ("" if unknown), so that the caller can say why it waits.
func Acquire(ctx context.Context, lockfile string, onWait func(holder string)) (*FileLock, error) {
	path := SidecarPath(lockfile)
	waited := false
	for {
		f, err := openSidecar(path)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", lockfile, err)
		}
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
				break
			}
			if !waited && onWait != nil {
				onWait(holderOf(path))
			}
			waited = true
			select {
			case <-ctx.Done():
				f.Close()
				return nil, fmt.Errorf("waiting for the lock of %s: %w", lockfile, ctx.Err())
			case <-time.After(lockPollInterval):
			}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", lockfile, err)
		}
		// The holder before us removes the sidecar on Release: if the
		// path no longer names the file we locked, we hold a lock nobody
		// else will ever ask for. Start again on the file that is there.
		if same, err := sameFile(f, path); err != nil || !same {
			f.Close()
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("lock %s: %w", lockfile, err)
			}
			continue
		}
		if err := f.Truncate(0); err == nil {
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		return &FileLock{f: f, path: path}, nil
	}
}

// Release removes the sidecar and releases the lock. It is safe to call
// more than once.
func (l *FileLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	rmErr := os.Remove(l.path) // while still held: see the check in Acquire
	err := l.f.Close()         // closing the last descriptor releases the flock
	l.f = nil
	if rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		return fmt.Errorf("unlock: %w", rmErr)
	}
	return err
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	pi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return os.SameFile(fi, pi), nil
}

// openSidecar opens (or creates) the sidecar for locking and writing,
// refusing a link and anything but a regular file.
func openSidecar(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o644)
	if errors.Is(err, syscall.ELOOP) {
		target, _ := os.Readlink(path)
		return nil, fmt.Errorf("%s is a symbolic link to %s: the lock's sidecar is never followed (imagesync writes it); remove it",
			filepath.Base(path), excerpt.Quote(target))
	}
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = &repofs.NotRegularError{Name: filepath.Base(path), Kind: repofs.KindOf(fi.Mode())}
		}
		return nil, err
	}
	return f, nil
}

// holderOf reads the pid a holder wrote into the sidecar, "" if none.
func holderOf(path string) string {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, 32) // a pid and a newline
	n, _ := f.Read(b)
	pid := strings.TrimSpace(string(b[:n]))
	if pid == "" {
		return ""
	}
	return "pid " + pid
}

//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package lock

import "context"

// FileLock is a no-op on systems without flock(2): there, two
// "imagesync lock" runs at once are not serialized (each write is still
// whole, see WriteFile).
type FileLock struct{}

// SidecarPath is the file that Acquire would lock for lockfile.
func SidecarPath(lockfile string) string { return lockfile + ".lock" }

// Acquire returns at once; see FileLock.
func Acquire(ctx context.Context, lockfile string, onWait func(holder string)) (*FileLock, error) {
	return &FileLock{}, ctx.Err()
}

// Release does nothing.
func (l *FileLock) Release() error { return nil }

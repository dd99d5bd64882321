//go:build unix && !linux

package repofs

import (
	"os"
	"syscall"
)

// openFlags are added to every open: O_NONBLOCK, so that opening a FIFO
// never waits for a writer (regular files ignore it).
const openFlags = syscall.O_NONBLOCK

// pseudoFile reports whether f lives on a kernel pseudo file system; only
// Linux's /proc and /sys are known (elsewhere the type check before the
// open is the guard).
func pseudoFile(*os.File) bool { return false }

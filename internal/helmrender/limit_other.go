//go:build !linux

package helmrender

import (
	"runtime/debug"
	"syscall"
)

// limitMemory bounds this process as far as the platform allows without
// Linux's RLIMIT_DATA: a soft memory limit for the collector, which is no
// sure bound; the parent's deadline bounds the time.
func limitMemory(memory int64) error {
	debug.SetMemoryLimit(memory)
	return nil
}

// limitCPU does nothing here: the parent's deadline bounds the time.
func limitCPU(int64) error { return nil }

// childAttr has nothing to add here.
func childAttr() *syscall.SysProcAttr { return nil }

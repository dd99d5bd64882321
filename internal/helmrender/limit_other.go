//go:build !linux

package helmrender

import "runtime/debug"

// limitProcess bounds this process as far as the platform allows without
// Linux's RLIMIT_DATA: a soft memory limit for the collector; the
// parent's deadline bounds the time.
func limitProcess(memory, _ int64) error {
	debug.SetMemoryLimit(memory)
	return nil
}

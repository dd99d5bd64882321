package workspace

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/imagesync/imagesync/internal/lock"
)

// DiagnosticsError is a user error in images.hcl or images.lock, as HCL
// diagnostics with the files they point into.
type DiagnosticsError struct {
	Files map[string]*hcl.File
	Diags hcl.Diagnostics
}

func (e *DiagnosticsError) Error() string { return e.Diags.Error() }

// FixLockHint is the command that brings a stale lock up to date.
const FixLockHint = `run "imagesync lock" to update images.lock`

// StaleLockError says that images.lock does not match the config and
// files: it is missing, or Changes lists every difference from the lock's
// point of view. lock --check, plan and apply all refuse a stale lock with
// it.
type StaleLockError struct {
	LockName string
	Missing  bool
	Changes  []lock.Change
}

func (e *StaleLockError) Error() string {
	if e.Missing {
		return fmt.Sprintf("%s does not exist\n%s", e.LockName, FixLockHint)
	}
	return fmt.Sprintf("%s is out of date (%d differences)\n%s", e.LockName, len(e.Changes), FixLockHint)
}

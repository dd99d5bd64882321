package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/workspace"
)

// WriteLockChanges reports what `imagesync lock` changed, one line per
// change, then a summary line.
func WriteLockChanges(w io.Writer, name string, l *lock.Lock, changes []lock.Change, created bool) error {
	if len(changes) == 0 {
		return WriteLockUpToDate(w, name, l)
	}
	var b strings.Builder
	var added, removed, upgraded, moved int
	for _, c := range changes {
		fmt.Fprintf(&b, "  %s\n", c)
		switch c.Kind {
		case lock.Added:
			added++
		case lock.Removed:
			removed++
		case lock.Upgraded:
			upgraded++
		case lock.Moved:
			moved++
		}
	}
	verb := "Updated"
	if created {
		verb = "Created"
	}
	fmt.Fprintf(&b, "%s %s: %d images, %d builds (%d added, %d upgraded, %d changed, %d removed).\n",
		verb, name, len(l.Images), len(l.Builds), added, upgraded, moved, removed)
	return writeText(w, b.String())
}

// WriteLockUpToDate says that the lock matches the config and files.
func WriteLockUpToDate(w io.Writer, name string, l *lock.Lock) error {
	return writeText(w, fmt.Sprintf("%s is up to date: %d images, %d builds.\n", name, len(l.Images), len(l.Builds)))
}

// WriteLockWait says that lock waits for another imagesync.
func WriteLockWait(w io.Writer, holder, name string) {
	_ = writeText(w, fmt.Sprintf("Waiting for another imagesync (%s) to finish with %s...\n", holder, name))
}

// WriteStaleLock reports a lock that does not match the config and files,
// from the lock's point of view: "+" is missing from it, "-" is no longer
// needed, "~" differs; then the command that fixes it (fix, the imagesync
// command line with the flags that read the same files). It is an error
// message, and starts like one.
func WriteStaleLock(w io.Writer, e *workspace.StaleLockError, fix string) {
	var b strings.Builder
	if e.Missing {
		fmt.Fprintf(&b, "%s%s does not exist\n", ErrorPrefix, e.LockName)
	} else {
		fmt.Fprintf(&b, "%s%s is out of date (%d differences):\n", ErrorPrefix, e.LockName, len(e.Changes))
	}
	for _, c := range e.Changes {
		fmt.Fprintf(&b, "  %s %s: %s\n", changeSymbol(c), subject(c), staleDetail(c, e.LockName))
	}
	fmt.Fprintln(&b, FixLock(fix, e.LockName))
	_ = writeText(w, b.String())
}

// FixLock is the line that names the command that brings a lock up to
// date.
func FixLock(fix, lockName string) string {
	return fmt.Sprintf("run %q to update %s", fix, lockName)
}

// changeSymbol is the mark of a lock difference: "+" missing from the
// lock, "-" no longer needed, "~" differs.
func changeSymbol(c lock.Change) string {
	switch c.Kind {
	case lock.Added:
		return "+"
	case lock.Removed:
		return "-"
	}
	return "~"
}

// staleDetail says what a difference is, from the lock's point of view.
func staleDetail(c lock.Change, lockName string) string {
	switch c.Kind {
	case lock.Added:
		return "not in " + lockName
	case lock.Removed:
		return "in " + lockName + " but no longer referenced"
	}
	return c.Detail
}

func subject(c lock.Change) string {
	if c.Build {
		return "build " + c.Ref.String()
	}
	return c.Ref.String()
}

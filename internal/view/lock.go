package view

import (
	"fmt"
	"io"

	"github.com/imagesync/imagesync/internal/lock"
)

// WriteLockChanges reports what `imagesync lock` changed, one line per
// change, then a summary line.
func WriteLockChanges(w io.Writer, name string, l *lock.Lock, changes []lock.Change, created bool) {
	if len(changes) == 0 {
		fmt.Fprintf(w, "%s is up to date: %d images, %d builds.\n", name, len(l.Images), len(l.Builds))
		return
	}
	var added, removed, upgraded, moved int
	for _, c := range changes {
		fmt.Fprintf(w, "  %s\n", c)
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
	fmt.Fprintf(w, "%s %s: %d images, %d builds (%d added, %d upgraded, %d changed, %d removed).\n",
		verb, name, len(l.Images), len(l.Builds), added, upgraded, moved, removed)
}

// WriteStaleLock lists why a lock does not match the config and files,
// from the lock's point of view: "+" is missing from it, "-" is no longer
// needed, "~" differs. It is an error message, and starts like one.
func WriteStaleLock(w io.Writer, name string, changes []lock.Change) {
	fmt.Fprintf(w, "%s%s is out of date (%d differences):\n", ErrorPrefix, name, len(changes))
	for _, c := range changes {
		switch c.Kind {
		case lock.Added:
			fmt.Fprintf(w, "  + %s: not in %s\n", subject(c), name)
		case lock.Removed:
			fmt.Fprintf(w, "  - %s: in %s but no longer referenced\n", subject(c), name)
		default:
			fmt.Fprintf(w, "  ~ %s: %s\n", subject(c), c.Detail)
		}
	}
}

func subject(c lock.Change) string {
	if c.Build {
		return "build " + c.Ref.String()
	}
	return c.Ref.String()
}

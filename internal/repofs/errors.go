package repofs

import (
	"fmt"

	"github.com/imagesync/imagesync/internal/excerpt"
)

// LeaveError is a name that leaves the repository: through a symbolic
// link (Link, the link as a path relative to the root, and Target, what
// it points to), through "..", or by being an absolute path elsewhere.
// The link is never followed.
type LeaveError struct {
	Name   string // the name asked for
	Link   string // "" when no link is to blame
	Target string // the link's target as written in the link

	absolute bool // Name is an absolute path outside the root
}

func (e *LeaveError) Error() string {
	name := excerpt.Text(e.Name)
	switch {
	case e.Link == "" && e.absolute:
		return fmt.Sprintf("%s is outside the repository: imagesync reads no file outside it", name)
	case e.Link == "":
		return fmt.Sprintf("%s leaves the repository through \"..\": imagesync reads no file outside it", name)
	case e.Link == e.Name:
		return fmt.Sprintf("%s is a symbolic link to %s, outside the repository: imagesync does not follow it",
			name, excerpt.Quote(e.Target))
	}
	return fmt.Sprintf("%s: symbolic link %s points to %s, outside the repository: imagesync does not follow it",
		name, excerpt.Text(e.Link), excerpt.Quote(e.Target))
}

// Is makes errors.Is(err, ErrOutside) hold.
func (e *LeaveError) Is(target error) bool { return target == ErrOutside }

// NotRegularError is a name that is not a regular file.
type NotRegularError struct {
	Name string
	Kind string // "a directory", "a FIFO", "a device", "a socket", "a file of /proc"
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file: imagesync reads regular files only", excerpt.Text(e.Name), e.Kind)
}

// Is makes errors.Is(err, ErrNotRegular) hold.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// TooLargeError is a file over the size cap of the read.
type TooLargeError struct {
	Name string
	Max  int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %s, the most imagesync reads of such a file", excerpt.Text(e.Name), size(e.Max))
}

// Is makes errors.Is(err, ErrTooLarge) hold.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// size writes a byte count the way people read it.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

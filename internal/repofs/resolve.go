package repofs

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// maxLinks is how many symbolic links one name may go through, as Linux
// allows (MAXSYMLINKS): more is a loop.
const maxLinks = 40

// component is one step of a name being resolved, with the link whose
// target it came from (nil for the steps of the name itself): the link
// to blame when the step leaves the root.
type component struct {
	name string
	from *link
}

type link struct{ path, target string }

// resolve evaluates the symbolic links of name one component at a time,
// as the kernel would, refusing any step out of the root, and returns the
// real path relative to the root ("." for the root itself, slash
// separated) and what is there. Links are read, never followed out.
func (r *Root) resolve(name string) (string, fs.FileInfo, error) {
	start, err := r.relative(name)
	if err != nil {
		return "", nil, err
	}
	name = start // messages name it as the repository knows it
	pending := split(start, nil)
	var cur []string // resolved components: no link among them
	var info fs.FileInfo
	hops := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		if c.name == ".." {
			if len(cur) == 0 {
				return "", nil, leave(name, c.from)
			}
			cur = cur[:len(cur)-1]
			info = nil
			continue
		}
		next := path.Join(path.Join(cur...), c.name)
		fi, err := r.fs.Lstat(next)
		if err != nil {
			return "", nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPathError(err)}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if !fi.IsDir() && len(pending) > 0 {
				return "", nil, &fs.PathError{Op: "open", Path: name, Err: syscall.ENOTDIR}
			}
			cur, info = append(cur, c.name), fi
			continue
		}
		if hops++; hops > maxLinks {
			return "", nil, &fs.PathError{Op: "open", Path: name, Err: syscall.ELOOP}
		}
		target, err := r.fs.Readlink(next)
		if err != nil {
			return "", nil, &fs.PathError{Op: "readlink", Path: name, Err: unwrapPathError(err)}
		}
		l := &link{path: next, target: target}
		if filepath.IsAbs(target) {
			rel, ok := r.inside(target)
			if !ok {
				return "", nil, leave(name, l)
			}
			cur, info, target = nil, nil, rel
		}
		pending = append(split(filepath.ToSlash(target), l), pending...)
	}
	if info == nil {
		fi, err := r.fs.Stat(path.Join(append([]string{"."}, cur...)...))
		if err != nil {
			return "", nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPathError(err)}
		}
		info = fi
	}
	return path.Join(append([]string{"."}, cur...)...), info, nil
}

// inside returns an absolute link target relative to the root when it
// names a place beneath the root as named or as resolved. A target that
// only reaches the root again through links elsewhere is refused: what
// lies outside is never walked.
func (r *Root) inside(target string) (string, bool) {
	if rel, ok := within(r.real, target); ok {
		return rel, true
	}
	return within(r.dir, target)
}

// split cuts a slash path into its components, dropping empty and "."
// ones.
func split(p string, from *link) []component {
	var out []component
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, component{name: c, from: from})
		}
	}
	return out
}

// leave is the error about name leaving the root at a step that came
// from the link l (nil: from the name itself).
func leave(name string, l *link) error {
	if l == nil {
		return &LeaveError{Name: name}
	}
	return &LeaveError{Name: name, Link: l.path, Target: l.target}
}

// unwrapPathError strips the *fs.PathError os.Root wraps its errors in,
// which names the path relative to the real root: the caller names it as
// it was asked for.
func unwrapPathError(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// KindOf names what kind of file m is, for messages: "a file", "a
// directory", "a FIFO", "a socket", "a device".
func KindOf(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		return "a device"
	}
	return fmt.Sprintf("a special file (%s)", m.Type())
}

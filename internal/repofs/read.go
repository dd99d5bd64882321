package repofs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// ReadFile reads the regular file name, at most DefaultMaxFileSize bytes.
func (r *Root) ReadFile(name string) ([]byte, error) {
	return r.ReadFileLimit(name, DefaultMaxFileSize)
}

// ReadFileLimit reads the regular file name, refusing one larger than max
// bytes (whatever its size said when it was opened).
func (r *Root) ReadFileLimit(name string, max int64) ([]byte, error) {
	f, err := r.open(name, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name = f.name
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f.f, max+1)); err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: unwrapPathError(err)}
	}
	if int64(b.Len()) > max {
		return nil, &TooLargeError{Name: name, Max: max}
	}
	return b.Bytes(), nil
}

// File is a regular file of the repository open for reading. Reads stop
// at the size it had when it was opened: a file that grows meanwhile is
// read as it was.
type File struct {
	f    *os.File
	r    io.Reader
	name string
}

// Open opens the regular file name for reading, with no size cap but the
// file's own size: for files streamed into a hash, never held in memory.
func (r *Root) Open(name string) (*File, error) {
	return r.open(name, -1)
}

// open resolves and opens name, refusing anything but a regular file of
// at most max bytes (max < 0: any size).
func (r *Root) open(name string, max int64) (*File, error) {
	rel, info, err := r.resolve(name)
	if err != nil {
		return nil, err
	}
	name = r.Rel(name)
	if !info.Mode().IsRegular() {
		return nil, &NotRegularError{Name: name, Kind: KindOf(info.Mode())}
	}
	if max >= 0 && info.Size() > max {
		return nil, &TooLargeError{Name: name, Max: max}
	}
	// Non-blocking: a FIFO swapped in since the check must not hang the run.
	f, err := r.fs.OpenFile(rel, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPathError(err)}
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &NotRegularError{Name: name, Kind: KindOf(fi.Mode())}
	}
	if err == nil && pseudoFile(f) {
		err = &NotRegularError{Name: name, Kind: "a file of /proc or /sys"}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{f: f, r: io.LimitReader(f, fi.Size()), name: name}, nil
}

// Read reads from the file, up to the size it had when opened.
func (f *File) Read(p []byte) (int, error) { return f.r.Read(p) }

// Write refuses: files of the repository are read only.
func (f *File) Write([]byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: f.name, Err: fs.ErrPermission}
}

// Stat describes the open file.
func (f *File) Stat() (fs.FileInfo, error) { return f.f.Stat() }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Stat describes what name resolves to (a file, a directory, or a
// special file, which no read accepts).
func (r *Root) Stat(name string) (fs.FileInfo, error) {
	_, info, err := r.resolve(name)
	return info, err
}

// Exists reports whether name resolves to something inside the root; a
// name that leaves it is an error, not a missing file.
func (r *Root) Exists(name string) (bool, error) {
	_, _, err := r.resolve(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// ReadDir lists the directory name, sorted by file name; the entries
// describe links as links (resolve them with Stat).
func (r *Root) ReadDir(name string) ([]fs.DirEntry, error) {
	rel, info, err := r.resolve(name)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	entries, err := fs.ReadDir(r.fs.FS(), rel)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: unwrapPathError(err)}
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// Sub resolves the directory name and returns a file system on it that
// walks without following links (fs.WalkDir lists a link as a link, and
// fs.ReadLink reads it), for walks that record links rather than read
// through them. Files found there are read with Open or ReadFile.
func (r *Root) Sub(name string) (fs.FS, string, error) {
	rel, info, err := r.resolve(name)
	if err != nil {
		return nil, "", err
	}
	if !info.IsDir() {
		return nil, "", &fs.PathError{Op: "open", Path: name, Err: syscall.ENOTDIR}
	}
	sub, err := fs.Sub(r.fs.FS(), rel)
	if err != nil {
		return nil, "", err
	}
	return sub, rel, nil
}

// ReadFileIn reads the file at path under the rule with the file's own
// directory as the root, at most max bytes: for a file named on its own
// (images.hcl, images.lock, a base branch's lock), which may be neither a
// link out of its directory nor a special file.
func ReadFileIn(path string, max int64) ([]byte, error) {
	r, err := Open(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.ReadFileLimit(filepath.Base(path), max)
}

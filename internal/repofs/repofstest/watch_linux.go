// Package repofstest helps tests prove that nothing outside a repository
// is read: Watch reports every file opened in a directory tree while it
// watches (inotify), whatever path or link the opener went through.
package repofstest

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"
)

// Watcher notes the opens in the directories it watches.
type Watcher struct {
	fd    int
	dirs  map[int]string // watch descriptor -> directory
	opens []string
}

// Watch starts watching every directory of the tree dir for opens (of
// files and of directories themselves); the test's cleanup stops it.
func Watch(t testing.TB, dir string) *Watcher {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	w := &Watcher{fd: fd, dirs: map[int]string{}}
	t.Cleanup(func() { syscall.Close(fd) })
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		wd, err := syscall.InotifyAddWatch(fd, p, syscall.IN_OPEN)
		if err != nil {
			return err
		}
		w.dirs[wd] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Opened() // the walk above listed the directories: not the test's
	return w
}

// Opened returns what was opened since the last call: paths of files, and
// of directories for a directory opened itself (listed, walked).
func (w *Watcher) Opened() []string {
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.Read(w.fd, buf)
		if n <= 0 || err != nil {
			break
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
			name := string(nameBytes)
			for len(name) > 0 && name[len(name)-1] == 0 {
				name = name[:len(name)-1]
			}
			w.opens = append(w.opens, filepath.Join(w.dirs[int(ev.Wd)], name))
			off += syscall.SizeofInotifyEvent + int(ev.Len)
		}
	}
	out := w.opens
	w.opens = nil
	return out
}

package repofs

import (
	"os"
	"syscall"
)

// openFlags are added to every open: O_NONBLOCK, so that opening a FIFO
// never waits for a writer (regular files ignore it).
const openFlags = syscall.O_NONBLOCK

// Magic numbers of statfs(2) for the kernel's pseudo file systems, whose
// files claim to be regular and empty and hold the process's environment
// or the machine's state.
const (
	procSuperMagic = 0x9fa0
	sysfsMagic     = 0x62656572
)

// pseudoFile reports whether f lives on /proc or /sys (through a bind
// mount, say): such a file is not the repository's.
func pseudoFile(f *os.File) bool {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		return false
	}
	return st.Type == procSuperMagic || st.Type == sysfsMagic
}

//go:build !unix

package repofs

import "os"

// openFlags are added to every open; without O_NONBLOCK the type check
// before the open is what keeps a FIFO from being opened.
const openFlags = 0

// pseudoFile reports whether f lives on a kernel pseudo file system: none
// is known here.
func pseudoFile(*os.File) bool { return false }

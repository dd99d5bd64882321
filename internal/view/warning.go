package view

import (
	"fmt"
	"io"
)

// WriteWarning writes one warning that is not an HCL diagnostic (one of
// discovery's) as diagnostics' warnings read: "imagesync: warning: msg".
func WriteWarning(w io.Writer, msg string) {
	fmt.Fprintf(w, "%swarning: %s\n", ErrorPrefix, msg)
}

package view

import (
	"fmt"
	"io"
)

// WriteWarning writes one warning that is not an HCL diagnostic (one of
// discovery's) as diagnostics' warnings read: "imagesync: warning: msg".
func WriteWarning(w io.Writer, msg string) {
	_ = writeText(w, fmt.Sprintf("%swarning: %s\n", ErrorPrefix, msg))
}

package view

import (
	"fmt"
	"io"
)

// ErrorPrefix starts every error imagesync prints, whatever its source
// (usage, config diagnostics, registries, a stale lock, an interruption),
// so that errors read the same everywhere and a CI log shows which tool
// failed. Warnings continue it with "warning: ".
const ErrorPrefix = "imagesync: "

// WriteError writes err as one error message; the lines after its first
// are written as they are, escaped (TerminalText): an error may quote a
// registry's answer.
func WriteError(w io.Writer, err error) {
	_ = writeText(w, fmt.Sprintf("%s%v\n", ErrorPrefix, err))
}

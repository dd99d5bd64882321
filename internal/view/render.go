package view

import (
	"fmt"
	"io"
	"strings"
)

// WriteRenderNotes lists what render left as it is (a compose service
// whose image images.lock does not hold), one line each, for stderr.
func WriteRenderNotes(w io.Writer, notes []string) error {
	var b strings.Builder
	for _, n := range notes {
		fmt.Fprintf(&b, "imagesync: left alone: %s\n", n)
	}
	return writeText(w, b.String())
}

// WriteRendered says what render wrote to a file: "Wrote
// compose.mirror.yaml: 12 services from the target registry by digest."
func WriteRendered(w io.Writer, kind, file string, services int) error {
	if kind == "compose" {
		return writeText(w, fmt.Sprintf("Wrote %s: %s from the target registry by digest.\n", file, Plural(services, "service")))
	}
	return writeText(w, fmt.Sprintf("Wrote %s.\n", file))
}

package view

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics renders HCL diagnostics like every other error, after
// ErrorPrefix, with the place first as compilers write it:
// "imagesync: file:line:column: summary" (warnings add "warning: " before
// the summary), the source line with the range underlined, then the detail.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) error {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(ErrorPrefix)
		if d.Subject != nil {
			s := d.Subject
			fmt.Fprintf(&b, "%s:%d:%d: ", s.Filename, s.Start.Line, s.Start.Column)
		}
		if d.Severity == hcl.DiagWarning {
			b.WriteString("warning: ")
		}
		fmt.Fprintf(&b, "%s\n", d.Summary)
		if d.Subject != nil {
			if f, ok := files[d.Subject.Filename]; ok && f != nil {
				writeSnippet(&b, f.Bytes, *d.Subject)
			}
		}
		if d.Detail != "" {
			fmt.Fprintf(&b, "  %s\n", d.Detail)
		}
	}
	return writeText(w, b.String())
}

// writeSnippet prints the first line of rng with carets under its columns.
func writeSnippet(b *strings.Builder, src []byte, rng hcl.Range) {
	lines := strings.Split(string(src), "\n")
	if rng.Start.Line < 1 || rng.Start.Line > len(lines) {
		return
	}
	line := strings.TrimRight(lines[rng.Start.Line-1], "\r")
	width := 1
	if rng.End.Line == rng.Start.Line && rng.End.Column > rng.Start.Column {
		width = rng.End.Column - rng.Start.Column
	}
	start := min(max(rng.Start.Column-1, 0), utf8.RuneCountInString(line))
	gutter := fmt.Sprintf("%5d | ", rng.Start.Line)
	fmt.Fprintf(b, "%s%s\n", gutter, line)
	fmt.Fprintf(b, "%s| %s%s\n", strings.Repeat(" ", len(gutter)-2), strings.Repeat(" ", start), strings.Repeat("^", width))
}

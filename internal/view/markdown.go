package view

import (
	"fmt"
	"strings"
)

// mdTable is a GitHub-flavoured markdown table being written.
type mdTable struct {
	header []string
	rows   [][]string
}

// write renders the table into b, at most max rows; the rows left out
// are counted in a line after it with more ("to create").
func (t *mdTable) write(b *strings.Builder, max int, more string) {
	if len(t.rows) == 0 {
		return
	}
	b.WriteString("| " + strings.Join(t.header, " | ") + " |\n|")
	for range t.header {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for i, r := range t.rows {
		if i == max {
			break
		}
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	if n := len(t.rows) - max; n > 0 {
		fmt.Fprintf(b, "\n_… and %d more %s, not shown._\n", n, more)
	}
}

// mdCode is s as inline code in a table cell; "" stays empty.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	s = mdCell(s)
	if strings.Contains(s, "`") {
		return "``" + s + "``"
	}
	return "`" + s + "`"
}

// mdCell makes s safe in a table cell: one line, pipes escaped, and no
// HTML a reader's browser would take for markup.
func mdCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}

// mdText makes s safe as a line of markdown text (in a list or a quote).
func mdText(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

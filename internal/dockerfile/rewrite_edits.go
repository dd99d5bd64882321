package dockerfile

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// rawEdit replaces src[start:end] with text.
type rawEdit struct {
	start, end int
	text       string
}

// logEdit replaces [start:end) of an instruction's original text.
type logEdit struct {
	start, end int
	text       string
}

// segment maps original-text offsets [log, log+n) of an instruction to
// file offsets [raw, raw+n): the parser joins an instruction's lines,
// without continuation characters and comment lines, into its original text.
type segment struct{ log, raw, n int }

func lineStarts(src []byte) []int {
	starts := []int{0}
	for i, c := range src {
		if c == '\n' && i+1 < len(src) {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// line is line i (0-based) of the file with its line ending.
func (rw *rewriter) line(i int) []byte {
	end := len(rw.src)
	if i+1 < len(rw.starts) {
		end = rw.starts[i+1]
	}
	return rw.src[rw.starts[i]:end]
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// segments maps node's original text to the file, joining its lines as
// parser.Parse does: the first line without leading space (and byte-order
// mark), then, while a line ends with the escape character, the next one
// that is neither a comment nor blank, each without its line ending and
// continuation character. Heredoc bodies follow these lines; they are
// never part of the mapping.
func (rw *rewriter) segments(node *parser.Node) ([]segment, error) {
	if node.StartLine < 1 || node.StartLine > len(rw.starts) {
		return nil, fmt.Errorf("%s: instruction %q: line %d is outside the file", rw.name, node.Value, node.StartLine)
	}
	var segs []segment
	logical := 0
	var text strings.Builder
	i := node.StartLine - 1
	line := bytes.TrimRight(rw.line(i), "\r\n")
	off := rw.starts[i]
	if i == 0 && bytes.HasPrefix(line, bom) {
		line, off = line[len(bom):], off+len(bom)
	}
	lead := len(line) - len(bytes.TrimLeftFunc(line, unicode.IsSpace))
	line, off = line[lead:], off+lead
	more, body := rw.continued(line)
	segs = append(segs, segment{logical, off, len(body)})
	logical += len(body)
	text.Write(body)
	for more && i+1 < len(rw.starts) {
		i++
		raw := rw.line(i)
		trimmed := bytes.TrimLeftFunc(raw, unicode.IsSpace)
		if len(trimmed) > 0 && trimmed[0] == '#' {
			continue // a comment between continuation lines
		}
		line := bytes.TrimRight(raw, "\r\n")
		if len(bytes.TrimLeftFunc(line, unicode.IsSpace)) == 0 {
			continue // an empty continuation line
		}
		more, body = rw.continued(line)
		segs = append(segs, segment{logical, rw.starts[i], len(body)})
		logical += len(body)
		text.Write(body)
	}
	if text.String() != node.Original || i+1 > node.EndLine {
		return nil, fmt.Errorf("%s:%d: cannot map instruction %q back to the file's lines", rw.name, node.StartLine, node.Original)
	}
	return segs, nil
}

// continued reports whether line ends with the continuation character and
// returns the line without it (and the blanks after it), as the parser's
// continuation expression does: an escape character, not itself escaped,
// followed only by spaces and tabs.
func (rw *rewriter) continued(line []byte) (bool, []byte) {
	t := bytes.TrimRight(line, " \t")
	n := len(t)
	if n > 0 && rune(t[n-1]) == rw.esc && (n == 1 || rune(t[n-2]) != rw.esc) {
		return true, t[:n-1]
	}
	return false, line
}

// mapEdit turns an edit of an instruction's original text into edits of
// the file. A word split over continuation lines gets the new text in its
// first part and loses the others.
func mapEdit(e logEdit, segs []segment) ([]rawEdit, error) {
	var out []rawEdit
	for _, s := range segs {
		lo, hi := max(e.start, s.log), min(e.end, s.log+s.n)
		if lo >= hi {
			continue
		}
		text := ""
		if len(out) == 0 {
			text = e.text
		}
		out = append(out, rawEdit{s.raw + lo - s.log, s.raw + hi - s.log, text})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cannot find %q in the file", e.text)
	}
	return out, nil
}

// applyLog applies edits to an instruction's original text.
func applyLog(s string, edits []logEdit) string {
	edits = slices.Clone(edits)
	slices.SortFunc(edits, func(a, b logEdit) int { return a.start - b.start })
	var b strings.Builder
	p := 0
	for _, e := range edits {
		b.WriteString(s[p:e.start])
		b.WriteString(e.text)
		p = e.end
	}
	b.WriteString(s[p:])
	return b.String()
}

// applyEdits applies non-overlapping edits to src.
func applyEdits(src []byte, edits []rawEdit) ([]byte, error) {
	edits = slices.Clone(edits)
	slices.SortFunc(edits, func(a, b rawEdit) int { return a.start - b.start })
	out := make([]byte, 0, len(src)+64*len(edits))
	p := 0
	for _, e := range edits {
		if e.start < p || e.end < e.start || e.end > len(src) {
			return nil, fmt.Errorf("overlapping edits at byte %d", e.start)
		}
		out = append(out, src[p:e.start]...)
		out = append(out, e.text...)
		p = e.end
	}
	return append(out, src[p:]...), nil
}

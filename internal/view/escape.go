package view

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text that came from a registry (an error's message, a platform, an
// artifact type) or from a repository's files (a locator, a service name,
// a diagnostic's source line) is escaped before it reaches a terminal or a
// CI job's log, with one function per sink:
//
//   - TerminalText: everything the text and markdown views write (plans,
//     summaries, progress, errors, diagnostics, documents for pull
//     requests, which go to the job log when printed), through writeText;
//     mdCell, mdText and mdCode only keep a value inside its markdown
//     cell or line;
//   - escapeData and escapeProperty: the data and the properties of a
//     GitHub Actions workflow command (annotations);
//   - safeJSON: JSON documents.
//
// In a job log, GitHub's runner takes a line that starts with "::" (after
// leading white space) for a workflow command, and "##[" anywhere in a
// line for a command of the legacy form: a registry could print
// "::stop-commands::", "::add-mask::" or a fake "::error". A terminal
// runs escape sequences (ESC [ ... to recolour or move the cursor, ESC ]
// ... to retitle it or hide a link).

// TerminalText makes s safe to write to a terminal or a job log: control
// characters other than newline and tab are shown as Go escapes
// ("\x1b"), a line whose first non-blank characters are "::" has its
// first colon written "\x3a", and "##[" is written "##\x5b". What it
// changes stays readable, and nothing else changes: text imagesync writes
// itself never holds any of them.
func TerminalText(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i, line := range strings.SplitAfter(s, "\n") {
		if i > 0 || len(line) > 0 {
			b.WriteString(escapeLine(line))
		}
	}
	return b.String()
}

// needsEscape is the fast path: most text has nothing to escape.
func needsEscape(s string) bool {
	if strings.Contains(s, "::") || strings.Contains(s, "##[") {
		return true
	}
	for _, r := range s {
		if isControl(r) || r == utf8.RuneError {
			return true
		}
	}
	return false
}

// escapeLine escapes one line (with its newline, if any).
func escapeLine(line string) string {
	var b strings.Builder
	body := strings.TrimLeftFunc(line, unicode.IsSpace)
	lead := line[:len(line)-len(body)]
	b.WriteString(escapeControls(lead))
	if strings.HasPrefix(body, "::") {
		b.WriteString(`\x3a`)
		body = body[1:]
	}
	b.WriteString(strings.ReplaceAll(escapeControls(body), "##[", `##\x5b`))
	return b.String()
}

// escapeControls writes the control characters of s, other than newline
// and tab, as Go escapes; bytes that are not UTF-8 (a lone 0x9b is a CSI
// to some terminals) become U+FFFD.
func escapeControls(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || !isControl(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// isControl reports the characters a terminal may act on: C0 and C1
// controls, DEL, and the invisible bidirectional overrides that reorder
// what a reader sees (U+202A-U+202E, U+2066-U+2069).
func isControl(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// writeText writes what a text or markdown view rendered, through
// TerminalText.
func writeText(w io.Writer, s string) error {
	_, err := io.WriteString(w, TerminalText(s))
	return err
}

// jsonWriter writes JSON documents with the characters encoding/json
// leaves as they are but a terminal may act on (C1 controls, the
// bidirectional overrides) and the legacy workflow command's "##[" as \u
// escapes, which JSON reads back the same; C0 controls encoding/json
// escapes itself, and a document's lines never start with "::" (its
// strings are quoted).
type jsonWriter struct{ w io.Writer }

// safeJSON wraps w for a JSON encoder, which writes each document in one
// Write, so that no character is split between two.
func safeJSON(w io.Writer) io.Writer { return jsonWriter{w} }

func (j jsonWriter) Write(p []byte) (int, error) {
	s := string(p)
	if !strings.ContainsFunc(s, jsonLeaves) && !strings.Contains(s, "##[") {
		return j.w.Write(p)
	}
	var b strings.Builder
	for _, r := range s {
		if jsonLeaves(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	// "##[" only occurs in a string, where "\u005b" reads back as "[".
	out := strings.ReplaceAll(b.String(), "##[", `##\u005b`)
	if _, err := io.WriteString(j.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// jsonLeaves reports the control characters encoding/json writes as they
// are: DEL and those beyond ASCII (newlines and tabs in a JSON document
// are its own layout; in its strings they are escaped).
func jsonLeaves(r rune) bool { return r >= 0x7f && isControl(r) }

// Package excerpt is the one rule by which an error or a warning shows
// text that came from a file (a value, a symbolic link's target, a
// library's message that embeds file content): escaped so that no NUL
// byte, newline or other control character reaches a terminal or a CI
// log, and cut to a bounded length. A file the repository holds is
// untrusted: a value read from a link to /proc/self/environ once put the
// whole process environment into an "invalid image reference" error.
package excerpt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxQuoted is the longest Quote returns, quotes and the mark of a cut
// included: enough for any image reference a person reads, too short for
// an environment.
const MaxQuoted = 120

// MaxText is the longest Text returns: a library's message holds the
// value it is about and some words around it.
const MaxText = 2 * MaxQuoted

// cutMark ends a text that was cut.
const cutMark = "..."

// Quote returns s as a double-quoted Go string literal (control
// characters, NUL and invalid UTF-8 escaped) of at most MaxQuoted
// characters; a longer s is cut and says how long it was:
// "leak:abc\x00SHELL=..." (2048 bytes).
func Quote(s string) string {
	if body, cut := escape(s, MaxQuoted-2, true); !cut {
		return `"` + body + `"`
	}
	size := fmt.Sprintf(" (%d bytes)", len(s))
	body, _ := escape(s, MaxQuoted-2-len(cutMark)-len(size), true)
	return `"` + body + cutMark + `"` + size
}

// Text returns a message that may embed file content, such as a
// library's error, with its control characters escaped as in a Go string
// literal (a newline becomes \n) and cut to at most MaxText characters.
func Text(s string) string {
	body, cut := escape(s, MaxText-len(cutMark), false)
	if cut {
		return body + cutMark
	}
	return body
}

// Error returns err with its message passed through Text; nil stays nil.
// errors.Is and errors.As still see err.
func Error(err error) error {
	if err == nil {
		return nil
	}
	return &textError{err: err}
}

type textError struct{ err error }

func (e *textError) Error() string { return Text(e.err.Error()) }
func (e *textError) Unwrap() error { return e.err }

// Reason returns err for a message that already quotes the value err is
// about: its text when short; else the text of the error it wraps
// innermost, or the text before a parenthesis or quote (a parser's
// "invalid reference format: repository name" rather than the value
// again in "(...) must be lowercase"); cut to MaxQuoted at most. errors.Is
// and errors.As still see err.
func Reason(err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	if len(text) > MaxQuoted {
		inner := err
		for next := errors.Unwrap(inner); next != nil; next = errors.Unwrap(inner) {
			inner = next
		}
		text = inner.Error()
		if i := strings.IndexAny(text, "(\""); i > 0 {
			text = strings.TrimSpace(text[:i])
		}
	}
	body, cut := escape(text, MaxQuoted-len(cutMark), false)
	if cut {
		body += cutMark
	}
	return &reasonError{err: err, text: body}
}

type reasonError struct {
	err  error
	text string
}

func (e *reasonError) Error() string { return e.text }
func (e *reasonError) Unwrap() error { return e.err }

// escape escapes s rune by rune as strconv.Quote does, without the
// quotes (and leaving '"' and '\\' alone unless quoting), and stops before
// the result would pass limit characters.
func escape(s string, limit int, quoting bool) (string, bool) {
	var b strings.Builder
	n := 0 // characters written
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1:
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case quoting && (r == '"' || r == '\\'):
			piece = `\` + string(r)
		case strconv.IsPrint(r):
			piece = string(r)
		default:
			q := strconv.QuoteRune(r)
			piece = q[1 : len(q)-1]
		}
		if n += utf8.RuneCountInString(piece); n > limit {
			return b.String(), true
		}
		b.WriteString(piece)
		i += size
	}
	return b.String(), false
}

package dockerfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// layout locates the words of an instruction's original text as
// parser.Parse splits them: the command, its flags (Node.Flags) and the
// start of the arguments after the flags. Offsets are relative to
// the top-level instruction's original text.
type layout struct {
	flags []flagWord
	rest  int // where the arguments after the flags start
	end   int // end of the text without trailing space
}

// flagWord is one flag: its text's offsets and its value as the parser
// reads it (quotes and escapes removed).
type flagWord struct {
	start, end int
	value      string
}

// isSplitSpace reports the characters the parser splits words at
// (reWhitespace in BuildKit's parser).
func isSplitSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'
}

// layoutOf locates the words of s, an instruction's original text that
// starts at offset base of the top-level instruction's original text, and
// checks the flags against node's.
func layoutOf(s string, base int, node *parser.Node, esc rune) (layout, error) {
	start := len(s) - len(strings.TrimLeftFunc(s, unicode.IsSpace))
	end := len(strings.TrimRightFunc(s, unicode.IsSpace))
	lay := layout{rest: base + end, end: base + end}
	i := start
	for i < end && !isSplitSpace(s[i]) {
		i++
	}
	for i < end && isSplitSpace(s[i]) {
		i++
	}
	if i < end {
		flags, rest := scanFlags(s[i:end], esc)
		for _, f := range flags {
			lay.flags = append(lay.flags, flagWord{base + i + f.start, base + i + f.end, f.value})
		}
		lay.rest = base + i + rest
	}
	var got []string
	for _, f := range lay.flags {
		got = append(got, f.value)
	}
	if !slices.Equal(got, node.Flags) {
		return lay, fmt.Errorf("cannot locate the flags %q of %q", node.Flags, s)
	}
	return lay, nil
}

// baseWord locates FROM's base name: the first word after the flags.
func (lay layout) baseWord(node *parser.Node) (flagWord, error) {
	if node.Next == nil {
		return flagWord{}, errors.New("FROM has no base image")
	}
	// The top-level original text is what Rewrite maps; layouts of FROM
	// are always top-level, so offsets index node.Original.
	s := node.Original
	b := lay.rest + len(s[lay.rest:lay.end]) - len(strings.TrimLeftFunc(s[lay.rest:lay.end], unicode.IsSpace))
	e := b
	for e < lay.end && !isSplitSpace(s[e]) {
		e++
	}
	if s[b:e] != node.Next.Value {
		return flagWord{}, fmt.Errorf("cannot locate the base name %q of %q", node.Next.Value, s)
	}
	return flagWord{start: b, end: e, value: s[b:e]}, nil
}

// innerStart is where ONBUILD's trigger starts in the instruction's
// original text s.
func (lay layout) innerStart(s string, trigger *parser.Node) (int, error) {
	b := lay.rest + len(s[lay.rest:lay.end]) - len(strings.TrimLeftFunc(s[lay.rest:lay.end], unicode.IsSpace))
	if !strings.HasPrefix(s[b:], trigger.Original) {
		return 0, fmt.Errorf("cannot locate the ONBUILD trigger %q", trigger.Original)
	}
	return b, nil
}

// scanFlags reads the flags that open args, the text after an
// instruction's keyword, and says where each one is and where the rest
// of args starts. It reads them as BuildKit's parser does to fill
// Node.Flags (flags_test.go holds the two equal over the fuzz corpora):
//
//   - a flag is a word that starts with "--"; the first word that does
//     not ends the flags, and so does a word that reads "--", which is no
//     flag itself;
//   - words end at a blank outside quotes; a blank is a byte for which
//     unicode.IsSpace holds of the Latin-1 character with its value, as
//     the parser reads args byte by byte;
//   - single or double quotes group, and are dropped; the escape character
//     takes the next byte as it is, and is dropped when nothing follows.
func scanFlags(args string, esc rune) (flags []flagWord, rest int) {
	pos := 0
	for {
		for pos < len(args) && isBlank(args[pos]) {
			pos++
		}
		if !strings.HasPrefix(args[pos:], "--") {
			return flags, pos
		}
		word := readWord(args, pos, esc)
		if word.value == "--" {
			return flags, word.end
		}
		flags = append(flags, word)
		pos = word.end
	}
}

// readWord reads the word that starts at args[start], as scanFlags says.
// Each byte of its value stands for the Latin-1 character of that value,
// as in Node.Flags.
func readWord(args string, start int, esc rune) flagWord {
	var value strings.Builder
	var quote byte // the quote the word is in, or 0
	i := start
	for ; i < len(args); i++ {
		c := args[i]
		switch {
		case quote == 0 && isBlank(c):
			return flagWord{start, i, value.String()}
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote != 0 && c == quote:
			quote = 0
		case rune(c) == esc && i+1 < len(args):
			i++
			value.WriteRune(rune(args[i]))
		case rune(c) == esc:
			// a trailing escape character is dropped
		default:
			value.WriteRune(rune(c))
		}
	}
	return flagWord{start, i, value.String()}
}

// isBlank reports whether the parser ends a flag word at byte c.
func isBlank(c byte) bool { return unicode.IsSpace(rune(c)) }

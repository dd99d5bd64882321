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
// parser.Parse splits them: the command, its flags (extractBuilderFlags)
// and the start of the arguments after the flags. Offsets are relative to
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
		flags, rest := extractFlags(s[i:end], esc)
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

// extractFlags is BuildKit's extractBuilderFlags (parser/split_command.go),
// byte for byte, also returning where each flag word is: it reads the
// leading "--" words of line, with quotes and escapes, and returns them and
// the offset of what follows.
func extractFlags(line string, esc rune) ([]flagWord, int) {
	const (
		inSpaces = iota // looking for start of a word
		inWord
		inQuote
	)
	var words []flagWord
	phase := inSpaces
	var sb strings.Builder
	quote := '\000'
	blankOK := false
	wordStart := 0
	var ch rune
	for pos := 0; pos <= len(line); pos++ {
		if pos != len(line) {
			ch = rune(line[pos])
		}
		if phase == inSpaces {
			if pos == len(line) {
				break
			}
			if unicode.IsSpace(ch) {
				continue
			}
			if ch != '-' || pos+1 == len(line) || rune(line[pos+1]) != '-' {
				return words, pos
			}
			phase = inWord
			wordStart = pos
		}
		if (phase == inWord || phase == inQuote) && pos == len(line) {
			if w := sb.String(); w != "--" && (blankOK || len(w) > 0) {
				words = append(words, flagWord{wordStart, pos, w})
			}
			break
		}
		if phase == inWord {
			if unicode.IsSpace(ch) {
				w := sb.String()
				phase = inSpaces
				if w == "--" {
					return words, pos
				}
				if blankOK || len(w) > 0 {
					words = append(words, flagWord{wordStart, pos, w})
				}
				sb.Reset()
				blankOK = false
				continue
			}
			if ch == '\'' || ch == '"' {
				quote = ch
				blankOK = true
				phase = inQuote
				continue
			}
			if ch == esc {
				if pos+1 == len(line) {
					continue
				}
				pos++
				ch = rune(line[pos])
			}
			sb.WriteRune(ch)
			continue
		}
		if phase == inQuote {
			if ch == quote {
				phase = inWord
				continue
			}
			if ch == esc {
				if pos+1 == len(line) {
					phase = inWord
					continue
				}
				pos++
				ch = rune(line[pos])
			}
			sb.WriteRune(ch)
		}
	}
	return words, len(line)
}

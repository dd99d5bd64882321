package dockerfile

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/imagesync/imagesync/internal/imageref"
)

// syntax plans the edit of the "# syntax=" directive when its image has a
// pin. (A BUILDKIT_SYNTAX build argument overrides the directive; the
// builders set that argument to the pin themselves.)
func (rw *rewriter) syntax() error {
	ref, _, loc, ok := parser.DetectSyntax(rw.src)
	if !ok {
		return nil
	}
	r, err := imageref.Parse(ref)
	if err != nil {
		return nil // the scan already refused it, or the build argument overrides it
	}
	pin := rw.pins[r.String()]
	if pin == "" {
		return nil
	}
	fail := func() error {
		return fmt.Errorf("%s: cannot rewrite the syntax directive for %s: write it as \"# syntax=%s\" on a line of its own at the top",
			rw.name, ref, ref)
	}
	if len(loc) == 0 || loc[0].Start.Line < 1 || loc[0].Start.Line > len(rw.starts) {
		return fail()
	}
	i := loc[0].Start.Line - 1
	line := bytes.TrimRight(rw.line(i), "\r\n")
	off := rw.starts[i]
	if i == 0 && bytes.HasPrefix(line, bom) {
		line, off = line[len(bom):], off+len(bom)
	}
	// "#" spaces key \s* "=" \s* value, as parser.DirectiveParser reads it.
	p := 0
	if p >= len(line) || line[p] != '#' {
		return fail()
	}
	p++
	p += len(line[p:]) - len(bytes.TrimLeftFunc(line[p:], unicode.IsSpace))
	k := p
	for p < len(line) && (line[p] >= 'a' && line[p] <= 'z' || line[p] >= 'A' && line[p] <= 'Z' || p > k && line[p] >= '0' && line[p] <= '9') {
		p++
	}
	if !strings.EqualFold(string(line[k:p]), "syntax") {
		return fail()
	}
	p += len(line[p:]) - len(bytes.TrimLeft(line[p:], " \t\f\r"))
	if p >= len(line) || line[p] != '=' {
		return fail()
	}
	p++
	p += len(line[p:]) - len(bytes.TrimLeft(line[p:], " \t\f\r"))
	if !bytes.HasPrefix(line[p:], []byte(ref)) {
		return fail()
	}
	rw.edits = append(rw.edits, rawEdit{off + p, off + p + len(ref), pin})
	rw.syntaxPin = pin
	return nil
}

package dockerfile

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/imagesync/imagesync/internal/imageref"
)

// sourceEdits plans the edits of a COPY --from or of the from= of RUN
// mounts, updating in's expected flags.
func (rw *rewriter) sourceEdits(node *parser.Node, lay layout, in *instr) ([]logEdit, error) {
	var edits []logEdit
	switch strings.ToLower(node.Value) {
	case "copy":
		for i, f := range lay.flags {
			from, ok := strings.CutPrefix(f.value, "--from=")
			if !ok {
				continue
			}
			pin, ref, ok := rw.sourcePin(from, true)
			if !ok {
				continue
			}
			flag := "--from=" + pin
			edits = append(edits, logEdit{f.start, f.end, flag})
			in.flags[i] = flag
			rw.used[locCopyFrom+"\x00"+ref] = true
		}
	case "run":
		for i, f := range lay.flags {
			val, ok := strings.CutPrefix(f.value, "--mount=")
			if !ok {
				continue
			}
			flag, refs, err := rw.rewriteMount(val)
			if err != nil {
				return nil, fmt.Errorf("RUN %s: %w", f.value, err)
			}
			if len(refs) == 0 {
				continue
			}
			edits = append(edits, logEdit{f.start, f.end, quoteFlag(flag, rw.esc)})
			in.flags[i] = flag
			for _, ref := range refs {
				rw.used[locRunMount+"\x00"+ref] = true
			}
		}
	}
	return edits, nil
}

// sourcePin says whether a COPY --from or mount from= value names an image
// with a pin, as BuildKit reads the value: a stage index (COPY only), a
// stage name, scratch, else an image.
func (rw *rewriter) sourcePin(from string, copyFrom bool) (pin, ref string, ok bool) {
	if copyFrom {
		if _, err := strconv.Atoi(from); err == nil {
			return "", "", false
		}
	}
	if rw.stages[strings.ToLower(from)] || from == "scratch" {
		return "", "", false
	}
	r, err := imageref.Parse(from)
	if err != nil {
		return "", "", false
	}
	pin = rw.pins[r.String()]
	return pin, r.String(), pin != "" && validPin(pin)
}

// rewriteMount replaces the from= image of a --mount value (CSV fields, as
// BuildKit reads them) by its pin. It returns the new flag and the
// references replaced; none means the flag stays as written.
func (rw *rewriter) rewriteMount(val string) (string, []string, error) {
	r := csv.NewReader(strings.NewReader(val))
	r.FieldsPerRecord = -1
	fields, err := r.Read()
	if err != nil {
		return "", nil, fmt.Errorf("reading the mount fields: %w", err)
	}
	var refs []string
	for i, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || strings.ToLower(k) != "from" {
			continue
		}
		pin, ref, ok := rw.sourcePin(v, false)
		if !ok {
			continue
		}
		fields[i] = k + "=" + pin
		refs = append(refs, ref)
	}
	if len(refs) == 0 {
		return "", nil, nil
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	if err := w.Write(fields); err != nil {
		return "", nil, err
	}
	w.Flush()
	return "--mount=" + strings.TrimSuffix(b.String(), "\n"), refs, w.Error()
}

// quoteFlag writes a flag so that the parser reads it back as flag: as is
// when it holds nothing special, else with its value in double quotes
// (the parser only takes a word starting with "--" for a flag).
func quoteFlag(flag string, esc rune) string {
	if !strings.ContainsFunc(flag, func(r rune) bool {
		return unicode.IsSpace(r) || r == '"' || r == '\'' || r == esc
	}) {
		return flag
	}
	name, value, _ := strings.Cut(flag, "=")
	var b strings.Builder
	b.WriteString(name + "=\"")
	for _, r := range value {
		if r == '"' || r == esc {
			b.WriteRune(esc)
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

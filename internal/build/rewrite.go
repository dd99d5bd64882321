package build

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/imageref"
)

// Rewrite returns a copy of a Dockerfile whose image references are
// replaced by their pins: the base of each FROM that names an image (not a
// stage, not scratch), COPY --from=<image>, RUN --mount=...,from=<image>,
// and the "# syntax=" directive. Stage names, flags (--platform), AS
// clauses, heredocs, comments, line endings and everything else stay as
// written, and no line moves, so that the builder's messages still point at
// the right lines.
//
// scan is ScanDockerfile's result for the Dockerfile (dockerfileName is its
// Path); pins maps each of its references (canonical form) to the pinned
// reference to build from. A reference of the scan without a pin is an
// error, and so is one that Rewrite cannot find in the file. A reference
// the scan does not list (one in a stage the build does not use) is
// rewritten when pins has it and left alone otherwise.
//
// Rewrite locates each reference with BuildKit's parser (the instruction's
// lines, its original text and its flags), edits only the words that hold
// references, then parses the result again and checks that exactly those
// words changed.
func Rewrite(dockerfile []byte, scan []discover.Found, dockerfileName string, pins map[string]string) ([]byte, error) {
	if err := checkPins(dockerfileName, scan, pins); err != nil {
		return nil, err
	}
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dockerfileName, err)
	}
	rw := &rewriter{
		name:   dockerfileName,
		src:    dockerfile,
		starts: lineStarts(dockerfile),
		esc:    res.EscapeToken,
		pins:   pins,
		stages: make(map[string]bool),
		used:   make(map[string]bool),
	}
	if err := rw.collectStages(res.AST); err != nil {
		return nil, err
	}
	fromPins := make(map[string]string) // "FROM <stage>" -> pin
	fromRefs := make(map[string]string) // "FROM <stage>" -> reference
	for _, f := range scan {
		k := locatorKind(f.Locator)
		if !strings.HasPrefix(k, "FROM ") {
			continue
		}
		if prev, ok := fromRefs[k]; ok && prev != f.Ref.String() {
			// Scans for several platforms, whose FROM depends on the
			// platform (FROM img-${TARGETARCH}): one Dockerfile cannot
			// name both pins.
			return nil, fmt.Errorf("%s: the base of %s is %s on one platform and %s on another: a rewritten Dockerfile can only name one; build the platforms separately or with buildx",
				dockerfileName, k, prev, f.Ref)
		}
		fromRefs[k] = f.Ref.String()
		fromPins[k] = pins[f.Ref.String()]
	}
	stage := 0
	for _, node := range res.AST.Children {
		in, err := rw.instruction(node, &stage, fromPins)
		if err != nil {
			return nil, err
		}
		rw.instrs = append(rw.instrs, in)
	}
	if err := rw.syntax(); err != nil {
		return nil, err
	}
	if err := rw.checkUsed(scan); err != nil {
		return nil, err
	}
	out, err := applyEdits(dockerfile, rw.edits)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dockerfileName, err)
	}
	if err := rw.verify(out, res); err != nil {
		return nil, fmt.Errorf("%s: rewriting the image references failed a self-check (please report this): %w", dockerfileName, err)
	}
	return out, nil
}

// checkPins refuses a scan reference without a pin, or with a pin that is
// not a valid reference.
func checkPins(name string, scan []discover.Found, pins map[string]string) error {
	var missing []discover.Found
	var errs []error
	for _, f := range scan {
		pin, ok := pins[f.Ref.String()]
		switch {
		case !ok || pin == "":
			missing = append(missing, f)
		case !validPin(pin):
			errs = append(errs, fmt.Errorf("%s: the pin %q of %s is not a valid image reference", name, pin, f.Ref))
		}
	}
	if len(missing) > 0 {
		errs = append([]error{missingPins(name, missing)}, errs...)
	}
	return errors.Join(errs...)
}

// validPin reports whether pin can stand for an image in a Dockerfile
// word: a valid reference without spaces or quotes.
func validPin(pin string) bool {
	if _, err := imageref.Parse(pin); err != nil {
		return false
	}
	return !strings.ContainsAny(pin, " \t\r\n'\"\\`$,=")
}

// missingPins is the error for scan references without a pin.
func missingPins(name string, missing []discover.Found) error {
	var refs []string
	for _, f := range missing {
		refs = append(refs, fmt.Sprintf("%s (%s)", f.Ref, f.Locator))
	}
	slices.Sort(refs)
	refs = slices.Compact(refs)
	return fmt.Errorf("%s: no pinned reference to build from for %s: lock and mirror it first",
		name, strings.Join(refs, ", "))
}

// locatorKind is what a Dockerfile locator names after "<path>#": "FROM
// <stage>", "COPY --from", "RUN --mount" or "syntax".
func locatorKind(loc string) string {
	return loc[strings.LastIndexByte(loc, '#')+1:]
}

// rewriter is the state of one Rewrite call.
type rewriter struct {
	name   string
	src    []byte
	starts []int // byte offset of each line
	esc    rune
	pins   map[string]string
	stages map[string]bool // lowercase stage names
	used   map[string]bool // "FROM <stage>", and "<kind>\x00<ref>" for sources
	edits  []rawEdit
	instrs []*instr
	// syntaxPin is the pin written into the "# syntax=" directive, if any.
	syntaxPin string
}

// instr is what Rewrite expects of one instruction after the edit.
type instr struct {
	original string   // the instruction's text after the edit
	flags    []string // its flags after the edit
	base     string   // FROM: its base name after the edit
	inner    *instr   // ONBUILD: the trigger
}

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

// collectStages records every stage name: a COPY --from or RUN
// --mount=from naming one means the stage, as in BuildKit, wherever it is.
func (rw *rewriter) collectStages(ast *parser.Node) error {
	for _, node := range ast.Children {
		if !strings.EqualFold(node.Value, "from") {
			continue
		}
		v, err := instructions.ParseInstruction(node)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", rw.name, node.StartLine, err)
		}
		if st, ok := v.(*instructions.Stage); ok && st.Name != "" {
			rw.stages[st.Name] = true
		}
	}
	return nil
}

// instruction plans the edits of one instruction. stage counts the FROMs
// seen so far.
func (rw *rewriter) instruction(node *parser.Node, stage *int, fromPins map[string]string) (*instr, error) {
	in := &instr{original: node.Original, flags: slices.Clone(node.Flags)}
	var edits []logEdit
	fail := func(err error) (*instr, error) {
		return nil, fmt.Errorf("%s:%d: %w", rw.name, node.StartLine, err)
	}
	// Only the instructions that may name an image are looked into.
	switch strings.ToLower(node.Value) {
	case "from":
		v, err := instructions.ParseInstruction(node)
		if err != nil {
			return fail(err)
		}
		st := v.(*instructions.Stage)
		loc := "FROM " + st.Name
		if st.Name == "" {
			loc = "FROM " + strconv.Itoa(*stage)
		}
		*stage++
		pin, ok := fromPins[loc]
		in.base = st.BaseName
		if !ok {
			break // a stage, scratch, or a stage the build does not use
		}
		lay, err := layoutOf(node.Original, 0, node, rw.esc)
		if err != nil {
			return fail(err)
		}
		b, err := lay.baseWord(node)
		if err != nil {
			return fail(err)
		}
		edits = append(edits, logEdit{b.start, b.end, pin})
		in.base = pin
		rw.used[loc] = true
	case "onbuild":
		if node.Next == nil || len(node.Next.Children) != 1 {
			break
		}
		trigger := node.Next.Children[0]
		if !isSourceCommand(trigger) {
			break
		}
		lay, err := layoutOf(node.Original, 0, node, rw.esc)
		if err != nil {
			return fail(err)
		}
		start, err := lay.innerStart(node.Original, trigger)
		if err != nil {
			return fail(err)
		}
		ilay, err := layoutOf(trigger.Original, start, trigger, rw.esc)
		if err != nil {
			return fail(err)
		}
		inner := &instr{original: trigger.Original, flags: slices.Clone(trigger.Flags)}
		iedits, err := rw.sourceEdits(trigger, ilay, inner)
		if err != nil {
			return fail(err)
		}
		edits = append(edits, iedits...)
		if len(iedits) > 0 {
			shifted := make([]logEdit, len(iedits))
			for i, e := range iedits {
				shifted[i] = logEdit{e.start - start, e.end - start, e.text}
			}
			inner.original = applyLog(trigger.Original, shifted)
		}
		in.inner = inner
	case "copy", "run":
		lay, err := layoutOf(node.Original, 0, node, rw.esc)
		if err != nil {
			return fail(err)
		}
		sedits, err := rw.sourceEdits(node, lay, in)
		if err != nil {
			return fail(err)
		}
		edits = append(edits, sedits...)
	}
	if len(edits) == 0 {
		return in, nil
	}
	segs, err := rw.segments(node)
	if err != nil {
		return nil, err
	}
	in.original = applyLog(node.Original, edits)
	for _, e := range edits {
		raw, err := mapEdit(e, segs)
		if err != nil {
			return fail(err)
		}
		rw.edits = append(rw.edits, raw...)
	}
	return in, nil
}

// isSourceCommand reports whether node is a COPY or RUN, the instructions
// that copy or mount from an image.
func isSourceCommand(node *parser.Node) bool {
	v := strings.ToLower(node.Value)
	return v == "copy" || v == "run"
}

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
			rw.used["COPY --from\x00"+ref] = true
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
				rw.used["RUN --mount\x00"+ref] = true
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

// checkUsed refuses a scan whose images Rewrite did not find in the file:
// the scan and the Dockerfile disagree, and building would use an image
// the lock does not know.
func (rw *rewriter) checkUsed(scan []discover.Found) error {
	var errs []error
	for _, f := range scan {
		k := locatorKind(f.Locator)
		var used bool
		switch {
		case k == "syntax":
			continue
		case strings.HasPrefix(k, "FROM "):
			used = rw.used[k]
		default:
			used = rw.used[k+"\x00"+f.Ref.String()]
		}
		if !used {
			errs = append(errs, fmt.Errorf("%s: %s (%s) is not in the Dockerfile as the scan says: scan the same Dockerfile", rw.name, f.Ref, f.Locator))
		}
	}
	return errors.Join(errs...)
}

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

// verify parses the rewritten file and checks that every instruction is
// where it was and reads exactly as planned: same lines, same heredocs,
// the planned original text, flags and FROM base.
func (rw *rewriter) verify(out []byte, before *parser.Result) error {
	res, err := parser.Parse(bytes.NewReader(out))
	if err != nil {
		return err
	}
	if len(res.AST.Children) != len(before.AST.Children) || res.EscapeToken != before.EscapeToken {
		return fmt.Errorf("%d instructions instead of %d", len(res.AST.Children), len(before.AST.Children))
	}
	for i, n := range res.AST.Children {
		old, want := before.AST.Children[i], rw.instrs[i]
		if n.StartLine != old.StartLine || n.EndLine != old.EndLine {
			return fmt.Errorf("instruction %q moved from lines %d-%d to %d-%d", want.original, old.StartLine, old.EndLine, n.StartLine, n.EndLine)
		}
		if !slices.Equal(n.Heredocs, old.Heredocs) {
			return fmt.Errorf("line %d: the heredocs changed", n.StartLine)
		}
		if err := checkNode(n, want); err != nil {
			return fmt.Errorf("line %d: %w", n.StartLine, err)
		}
	}
	if rw.syntaxPin != "" {
		if ref, _, _, ok := parser.DetectSyntax(out); !ok || ref != rw.syntaxPin {
			return fmt.Errorf("the syntax directive reads %q instead of %q", ref, rw.syntaxPin)
		}
	}
	return nil
}

func checkNode(n *parser.Node, want *instr) error {
	if n.Original != want.original {
		return fmt.Errorf("the instruction reads %q instead of %q", n.Original, want.original)
	}
	if !slices.Equal(n.Flags, want.flags) {
		return fmt.Errorf("the flags read %q instead of %q", n.Flags, want.flags)
	}
	if strings.EqualFold(n.Value, "from") && (n.Next == nil || n.Next.Value != want.base) {
		return fmt.Errorf("FROM does not read %q", want.base)
	}
	if want.inner != nil {
		if n.Next == nil || len(n.Next.Children) != 1 {
			return errors.New("the ONBUILD trigger is gone")
		}
		return checkNode(n.Next.Children[0], want.inner)
	}
	return nil
}

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

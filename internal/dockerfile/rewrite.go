package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Rewrite returns a copy of a Dockerfile whose image references are
// replaced by their pins: the base of each FROM that names an image (not a
// stage, not scratch), COPY --from=<image>, RUN --mount=...,from=<image>,
// and the "# syntax=" directive. Stage names, flags (--platform), AS
// clauses, heredocs, comments, line endings and everything else stay as
// written, and no line moves, so that the builder's messages still point at
// the right lines.
//
// scan is Scan's result for the Dockerfile (dockerfileName is its
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
func Rewrite(dockerfile []byte, scan []Found, dockerfileName string, pins map[string]string) ([]byte, error) {
	if err := CheckPins(dockerfileName, scan, pins); err != nil {
		return nil, err
	}
	fromPins, err := fromPinsOf(dockerfileName, scan, pins)
	if err != nil {
		return nil, err
	}
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dockerfileName, err)
	}
	rw := &rewriter{
		name:     dockerfileName,
		src:      dockerfile,
		starts:   lineStarts(dockerfile),
		esc:      res.EscapeToken,
		pins:     pins,
		fromPins: fromPins,
		stages:   make(map[string]bool),
		used:     make(map[string]bool),
	}
	stages, err := namedStages(dockerfileName, res.AST)
	if err != nil {
		return nil, err
	}
	for _, st := range stages {
		rw.stages[st.name] = true
	}
	for _, node := range res.AST.Children {
		in, err := rw.instruction(node)
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

// fromPinsOf maps each FROM locator of the scan ("FROM <stage>") to the pin
// of its base image.
func fromPinsOf(name string, scan []Found, pins map[string]string) (map[string]string, error) {
	fromPins := make(map[string]string) // "FROM <stage>" -> pin
	fromRefs := make(map[string]string) // "FROM <stage>" -> reference
	for _, f := range scan {
		k := place(f.Locator)
		if !strings.HasPrefix(k, "FROM ") {
			continue
		}
		if prev, ok := fromRefs[k]; ok && prev != f.Ref.String() {
			// Scans for several platforms, whose FROM depends on the
			// platform (FROM img-${TARGETARCH}): one Dockerfile cannot
			// name both pins.
			return nil, fmt.Errorf("%s: the base of %s is %s on one platform and %s on another: a rewritten Dockerfile can only name one; build the platforms separately or with buildx",
				name, k, prev, f.Ref)
		}
		fromRefs[k] = f.Ref.String()
		fromPins[k] = pins[f.Ref.String()]
	}
	return fromPins, nil
}

// rewriter is the state of one Rewrite call.
type rewriter struct {
	name     string
	src      []byte
	starts   []int // byte offset of each line
	esc      rune
	pins     map[string]string
	fromPins map[string]string // "FROM <stage>" -> pin
	stages   map[string]bool   // lowercase stage names
	used     map[string]bool   // "FROM <stage>", and "<kind>\x00<ref>" for sources
	froms    int               // the FROMs seen so far: the next stage's index
	edits    []rawEdit
	instrs   []*instr
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

// instruction plans the edits of one instruction. Only the instructions
// that may name an image are looked into.
func (rw *rewriter) instruction(node *parser.Node) (*instr, error) {
	in := &instr{original: node.Original, flags: slices.Clone(node.Flags)}
	var edits []logEdit
	var err error
	switch strings.ToLower(node.Value) {
	case "from":
		edits, err = rw.fromEdits(node, in)
	case "onbuild":
		edits, err = rw.onbuildEdits(node, in)
	case "copy", "run":
		var lay layout
		if lay, err = layoutOf(node.Original, 0, node, rw.esc); err == nil {
			edits, err = rw.sourceEdits(node, lay, in)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %w", rw.name, node.StartLine, err)
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
			return nil, fmt.Errorf("%s:%d: %w", rw.name, node.StartLine, err)
		}
		rw.edits = append(rw.edits, raw...)
	}
	return in, nil
}

// fromEdits plans the edit of a FROM's base name when the scan pins it.
func (rw *rewriter) fromEdits(node *parser.Node, in *instr) ([]logEdit, error) {
	v, err := parseFrom(node)
	if err != nil {
		return nil, err
	}
	loc := "FROM " + v.Name
	if v.Name == "" {
		loc = "FROM " + strconv.Itoa(rw.froms)
	}
	rw.froms++
	in.base = v.BaseName
	pin, ok := rw.fromPins[loc]
	if !ok {
		return nil, nil // a stage, scratch, or a stage the build does not use
	}
	lay, err := layoutOf(node.Original, 0, node, rw.esc)
	if err != nil {
		return nil, err
	}
	b, err := lay.baseWord(node)
	if err != nil {
		return nil, err
	}
	in.base = pin
	rw.used[loc] = true
	return []logEdit{{b.start, b.end, pin}}, nil
}

// onbuildEdits plans the edits of an ONBUILD whose trigger is a COPY or a
// RUN, which may copy or mount from an image.
func (rw *rewriter) onbuildEdits(node *parser.Node, in *instr) ([]logEdit, error) {
	if node.Next == nil || len(node.Next.Children) != 1 {
		return nil, nil
	}
	trigger := node.Next.Children[0]
	if v := strings.ToLower(trigger.Value); v != "copy" && v != "run" {
		return nil, nil
	}
	lay, err := layoutOf(node.Original, 0, node, rw.esc)
	if err != nil {
		return nil, err
	}
	start, err := lay.innerStart(node.Original, trigger)
	if err != nil {
		return nil, err
	}
	ilay, err := layoutOf(trigger.Original, start, trigger, rw.esc)
	if err != nil {
		return nil, err
	}
	in.inner = &instr{original: trigger.Original, flags: slices.Clone(trigger.Flags)}
	edits, err := rw.sourceEdits(trigger, ilay, in.inner)
	if err != nil || len(edits) == 0 {
		return nil, err
	}
	shifted := make([]logEdit, len(edits))
	for i, e := range edits {
		shifted[i] = logEdit{e.start - start, e.end - start, e.text}
	}
	in.inner.original = applyLog(trigger.Original, shifted)
	return edits, nil
}

// checkUsed refuses a scan whose images Rewrite did not find in the file:
// the scan and the Dockerfile disagree, and building would use an image
// the lock does not know.
func (rw *rewriter) checkUsed(scan []Found) error {
	var errs []error
	for _, f := range scan {
		k := place(f.Locator)
		var used bool
		switch {
		case k == locSyntax:
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

// HasHeredocs reports whether a Dockerfile uses heredocs (RUN <<EOF),
// which some builders (buildah before 1.35) do not support.
func HasHeredocs(dockerfile []byte) bool {
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return false
	}
	for _, n := range res.AST.Children {
		if len(n.Heredocs) > 0 {
			return true
		}
		if n.Next != nil && len(n.Next.Children) == 1 && len(n.Next.Children[0].Heredocs) > 0 {
			return true
		}
	}
	return false
}

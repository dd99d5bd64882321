package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/imagesync/imagesync/internal/imageref"
)

// Found is one image a Dockerfile's build uses and the place that names it.
type Found struct {
	Ref imageref.Ref
	// Locator is "<Options.Path>#" and the place, without a line number so
	// that it does not churn when unrelated lines move: "FROM <stage name
	// or index>", "COPY --from", "RUN --mount" or "syntax".
	Locator string
}

// IsSyntax reports whether f is the frontend image of the "# syntax="
// directive (or of the BUILDKIT_SYNTAX build argument), which a builder runs
// rather than builds from.
func (f Found) IsSyntax() bool { return place(f.Locator) == locSyntax }

// place is what a locator names after "<path>#": "FROM <stage>", "COPY
// --from", "RUN --mount" or "syntax".
func place(loc string) string {
	return loc[strings.LastIndexByte(loc, '#')+1:]
}

// Options says how a Dockerfile is built.
type Options struct {
	Path      string            // slash path relative to the repo root; used in locators and error messages
	BuildArgs map[string]string // --build-arg values; they override only ARGs that are declared
	Target    string            // build target stage; "" = last stage. Only stages reachable from it count.
	Platform  string            // target platform for TARGETPLATFORM/TARGETOS/TARGETARCH/TARGETVARIANT and BUILDPLATFORM/BUILDOS/BUILDARCH...; "" means "linux/amd64" (fixed so results never depend on the machine)
	// NamedContexts are build additional contexts whose value is docker-image://REF: "FROM <key>" (and COPY --from=<key>, RUN --mount=from=<key>) mean that image, not an image called <key>.
	NamedContexts map[string]imageref.Ref
	// LocalContexts are the names of the other additional contexts (directories, URLs, oci-layout): a reference to one of them is not an image.
	LocalContexts map[string]bool
	// AllStages counts the stages every target reaches, as for a
	// Dockerfile that may be built with any --target, instead of those
	// the last stage reaches. Target, when set, wins.
	AllStages bool
}

// Locator suffixes, after "<Path>#".
const (
	locCopyFrom = "COPY --from"
	locRunMount = "RUN --mount"
	locSyntax   = "syntax"
)

// SyntaxArg is the build argument that overrides the "# syntax=" directive
// in BuildKit's Dockerfile frontend.
const SyntaxArg = "BUILDKIT_SYNTAX"

// Scan returns every image reference the Dockerfile's build needs, in file order, deduplicated by (Ref, Locator).
//
// It follows BuildKit (dockerfile2llb) step by step, with BuildKit's own
// parser and lexer, so that it finds exactly the images BuildKit would
// resolve: the "# syntax=" frontend, and the FROM, COPY --from and
// RUN --mount=from images of the stages reachable from the target, with
// the ONBUILD triggers of their base stages. It fails wherever BuildKit
// fails before pulling anything, and, stricter than BuildKit, on a stage
// name used twice and on a reachable FROM that uses an unset variable
// without a fallback, since the result would then be a guess. Its errors
// are *Error.
func Scan(data []byte, opts Options) ([]Found, error) {
	sc := &scanner{opts: opts, lines: strings.Split(string(data), "\n")}
	if len(data) == 0 {
		return nil, sc.errAt(0, errors.New("the Dockerfile is empty"))
	}
	syntax, err := sc.syntax(data)
	if err != nil {
		return nil, err
	}
	if err := sc.parse(data); err != nil {
		return nil, err
	}
	target, err := sc.target()
	if err != nil {
		return nil, err
	}
	if err := sc.resolveSources(); err != nil {
		return nil, err
	}
	if err := sc.checkCycles(); err != nil {
		return nil, err
	}
	targets := []*stage{target}
	if opts.AllStages && opts.Target == "" {
		targets = sc.stages
	}
	reach, err := sc.reachable(targets)
	if err != nil {
		return nil, err
	}
	if err := sc.checkReachable(reach); err != nil {
		return nil, err
	}
	return sc.collect(syntax, reach), nil
}

// scanner is the state of one Scan call.
type scanner struct {
	opts   Options
	lines  []string // the file's lines, for hints in errors
	escape rune
	lex    *shell.Lex
	args   *argEnv // global arguments: predefined platform args and meta ARGs
	stages []*stage
	byName map[string]*stage // by lowercase stage name, as BuildKit keys them
}

// stage is one FROM and what it depends on.
type stage struct {
	index int
	st    *instructions.Stage
	line  int
	base  *stage       // the earlier stage FROM names, if any
	image imageref.Ref // the image FROM names (or its named context); zero if none
	// context is set when an additional context replaces the stage itself
	// (a context named like the stage): its FROM line is then not used.
	context bool
	unset   []string // variables FROM uses while unset and without fallback
	sources []source
	onbuild bool // the base stage's ONBUILD triggers were added
}

// source is what a COPY --from or RUN --mount=from names: a stage, an
// image, or neither (scratch, a local context).
type source struct {
	what  string // locCopyFrom or locRunMount
	from  string
	line  int
	stage *stage
	image imageref.Ref
}

// locator names a stage in locators: its name, else its index, which is how
// COPY --from names an unnamed stage.
func (s *stage) locator() string {
	if s.st.Name != "" {
		return s.st.Name
	}
	return fmt.Sprint(s.index)
}

// syntax returns the frontend image BuildKit runs instead of its built-in
// Dockerfile frontend: the BUILDKIT_SYNTAX build argument, else the
// "# syntax=" parser directive as BuildKit's frontend detects it.
func (sc *scanner) syntax(data []byte) (*Found, error) {
	var src string
	line := 0
	if v, ok := sc.opts.BuildArgs[SyntaxArg]; ok {
		src, _, _ = strings.Cut(strings.TrimSpace(v), " ")
	} else if ref, _, loc, ok := parser.DetectSyntax(data); ok {
		src, line = ref, firstLine(loc)
	} else {
		return nil, nil
	}
	ref, err := imageref.Parse(src)
	if err != nil {
		return nil, sc.errAt(line, fmt.Errorf("syntax %s: %w", src, err))
	}
	return &Found{Ref: ref, Locator: sc.opts.Path + "#" + locSyntax}, nil
}

// parse runs BuildKit's parser, sets up the global arguments and resolves
// every FROM line.
func (sc *scanner) parse(data []byte) error {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return sc.buildkitErr(err)
	}
	if !slices.ContainsFunc(res.AST.Children, func(n *parser.Node) bool { return strings.EqualFold(n.Value, command.From) }) {
		return sc.errAt(0, ErrNoFrom)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return sc.buildkitErr(err)
	}
	if len(stages) == 0 {
		return sc.errAt(0, ErrNoFrom)
	}
	sc.escape = res.EscapeToken
	sc.lex = shell.NewLex(res.EscapeToken)
	platform, err := parsePlatform(sc.opts.Platform)
	if err != nil {
		return sc.errAt(0, err)
	}
	target := sc.opts.Target
	if target == "" {
		target = stages[len(stages)-1].Name
	}
	sc.args = platformArgs(platform, sc.opts.BuildArgs, target)
	if err := sc.applyMetaArgs(sc.args, metaArgs); err != nil {
		return err
	}
	sc.byName = make(map[string]*stage)
	for i := range stages {
		if err := sc.addStage(i, &stages[i]); err != nil {
			return err
		}
	}
	return nil
}

// target is the stage BuildKit builds: opts.Target, else the last stage.
func (sc *scanner) target() (*stage, error) {
	if sc.opts.Target == "" {
		return sc.stages[len(sc.stages)-1], nil
	}
	if s, ok := sc.byName[strings.ToLower(sc.opts.Target)]; ok {
		return s, nil
	}
	var names []string
	for _, s := range sc.stages {
		if s.st.Name != "" {
			names = append(names, s.st.Name)
		}
	}
	return nil, sc.errAt(0, fmt.Errorf("target stage %q could not be found (stages: %s)",
		sc.opts.Target, strings.Join(names, ", ")))
}

// collect lists the images of the reachable stages in file order: the
// syntax directive first, then per stage its FROM, then what its base's
// ONBUILD triggers and its own instructions copy or mount.
func (sc *scanner) collect(syntax *Found, reach map[*stage]bool) []Found {
	var out []Found
	seen := make(map[[2]string]bool)
	add := func(ref imageref.Ref, loc string) {
		k := [2]string{ref.String(), loc}
		if !seen[k] {
			seen[k] = true
			out = append(out, Found{Ref: ref, Locator: loc})
		}
	}
	if syntax != nil {
		add(syntax.Ref, syntax.Locator)
	}
	for _, s := range sc.stages {
		if !reach[s] {
			continue
		}
		if !s.image.IsZero() {
			add(s.image, sc.opts.Path+"#FROM "+s.locator())
		}
		for _, src := range s.sources {
			if !src.image.IsZero() {
				add(src.image, sc.opts.Path+"#"+src.what)
			}
		}
	}
	return out
}

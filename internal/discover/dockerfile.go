package discover

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
	"github.com/moby/buildkit/util/suggest"

	"github.com/imagesync/imagesync/internal/imageref"
)

// DockerfileOptions says how a Dockerfile is built.
type DockerfileOptions struct {
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

// syntaxBuildArg overrides the "# syntax=" directive, as the build-arg
// BUILDKIT_SYNTAX does in BuildKit's Dockerfile frontend.
const syntaxBuildArg = "BUILDKIT_SYNTAX"

// ScanDockerfile returns every image reference the Dockerfile's build needs, in file order, deduplicated by (Ref, Locator).
//
// It follows BuildKit (dockerfile2llb) step by step, with BuildKit's own
// parser and lexer, so that it finds exactly the images BuildKit would
// resolve: the "# syntax=" frontend, and the FROM, COPY --from and
// RUN --mount=from images of the stages reachable from the target, with
// the ONBUILD triggers of their base stages. It fails wherever BuildKit
// fails before pulling anything, and, stricter than BuildKit, on a stage
// name used twice and on a reachable FROM that uses an unset variable
// without a fallback, since the result would then be a guess.
func ScanDockerfile(data []byte, opts DockerfileOptions) ([]Found, error) {
	sc := &dfScan{opts: opts, lines: strings.Split(string(data), "\n")}
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
	targets := []*dfStage{target}
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

// dfScan is the state of one ScanDockerfile call.
type dfScan struct {
	opts   DockerfileOptions
	lines  []string // the file's lines, for hints in errors
	escape rune
	lex    *shell.Lex
	args   *argEnv // global arguments: predefined platform args and meta ARGs
	stages []*dfStage
	byName map[string]*dfStage // by lowercase stage name, as BuildKit keys them
}

// dfStage is one FROM and what it depends on.
type dfStage struct {
	index int
	st    *instructions.Stage
	line  int
	base  *dfStage     // the earlier stage FROM names, if any
	image imageref.Ref // the image FROM names (or its named context); zero if none
	// context is set when an additional context replaces the stage itself
	// (a context named like the stage): its FROM line is then not used.
	context bool
	unset   []string // variables FROM uses while unset and without fallback
	sources []dfSource
	onbuild bool // the base stage's ONBUILD triggers were added
}

// dfSource is what a COPY --from or RUN --mount=from names: a stage, an
// image, or neither (scratch, a local context).
type dfSource struct {
	what  string // locCopyFrom or locRunMount
	from  string
	line  int
	stage *dfStage
	image imageref.Ref
}

// locator names a stage in locators: its name, else its index, which is how
// COPY --from names an unnamed stage.
func (s *dfStage) locator() string {
	if s.st.Name != "" {
		return s.st.Name
	}
	return fmt.Sprint(s.index)
}

// errAt prefixes err with the file and, when known, the 1-based line, and
// adds a hint when that line, or the value err quotes, looks like a
// template.
func (sc *dfScan) errAt(line int, err error) error {
	if line > 0 && line <= len(sc.lines) {
		err = withTemplateHint(sc.lines[line-1]+"\n"+err.Error(), err)
	}
	if line > 0 {
		return fmt.Errorf("%s:%d: %w", sc.opts.Path, line, err)
	}
	return fmt.Errorf("%s: %w", sc.opts.Path, err)
}

// buildkitErr formats an error of BuildKit's parser with the line its
// parser.LocationError carries.
func (sc *dfScan) buildkitErr(err error) error {
	line := 0
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		if inner := le.Unwrap(); inner != nil {
			// Drop BuildKit's "dockerfile parse error on line N:" prefix
			// in favour of the "file:line:" one.
			line, err = le.Locations[0][0].Start.Line, inner
		}
	}
	return sc.errAt(line, stableHint(err))
}

// stableHint replaces BuildKit's "(did you mean X?)" hint, which BuildKit
// picks among equally close candidates in map order, with one that does
// not change from run to run: for an unknown instruction, the first closest
// instruction in alphabetical order; for anything else, none.
func stableHint(err error) error {
	msg := err.Error()
	for e := err; e != nil && e.Error() == msg; e = errors.Unwrap(e) {
		inner := errors.Unwrap(e)
		if inner == nil || !strings.HasPrefix(msg, inner.Error()+" (did you mean ") {
			continue
		}
		var unknown *instructions.UnknownInstructionError
		if errors.As(inner, &unknown) {
			names := make([]string, 0, len(command.Commands))
			for name := range command.Commands {
				names = append(names, strings.ToUpper(name))
			}
			slices.Sort(names)
			if match, ok := suggest.Search(unknown.Instruction, names, false); ok {
				return fmt.Errorf("%w (did you mean %s?)", inner, match)
			}
		}
		return inner
	}
	return err
}

// firstLine is the 1-based line a BuildKit location starts at, or 0.
func firstLine(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// syntax returns the frontend image BuildKit runs instead of its built-in
// Dockerfile frontend: the BUILDKIT_SYNTAX build argument, else the
// "# syntax=" parser directive as BuildKit's frontend detects it.
func (sc *dfScan) syntax(data []byte) (*Found, error) {
	var src string
	line := 0
	if v, ok := sc.opts.BuildArgs[syntaxBuildArg]; ok {
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
func (sc *dfScan) parse(data []byte) error {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return sc.buildkitErr(err)
	}
	if !slices.ContainsFunc(res.AST.Children, func(n *parser.Node) bool { return strings.EqualFold(n.Value, command.From) }) {
		return sc.errAt(0, errNoFrom)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return sc.buildkitErr(err)
	}
	if len(stages) == 0 {
		return sc.errAt(0, errNoFrom)
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
	sc.byName = make(map[string]*dfStage)
	for i := range stages {
		if err := sc.addStage(i, &stages[i]); err != nil {
			return err
		}
	}
	return nil
}

// target is the stage BuildKit builds: opts.Target, else the last stage.
func (sc *dfScan) target() (*dfStage, error) {
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
func (sc *dfScan) collect(syntax *Found, reach map[*dfStage]bool) []Found {
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

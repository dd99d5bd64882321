package discover

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/imagesync/imagesync/internal/imageref"
)

// scratchImage is the empty image, which nobody pulls.
const scratchImage = "scratch"

// addStage resolves the FROM of stage i the way dockerfile2llb's
// buildDispatchStates and resolveBaseImage do: expand it with the global
// arguments, let a context named like the stage replace the stage, else
// take an earlier stage of that name, scratch, or an image (which a named
// context may in turn replace).
func (sc *dfScan) addStage(i int, st *instructions.Stage) error {
	s := &dfStage{index: i, st: st, line: firstLine(st.Location)}
	from := "FROM " + st.BaseName
	base, unset, err := sc.expandFrom(st.BaseName)
	if err != nil {
		return sc.errAt(s.line, fmt.Errorf("%s: %w", from, err))
	}
	if base == "" {
		if len(unset) > 0 {
			return sc.unsetError(s.line, st.BaseName, unset)
		}
		return sc.errAt(s.line, fmt.Errorf("%s: base name (%s) should not be blank", from, st.BaseName))
	}
	if st.Platform != "" {
		// The platform selects a variant of the image; it is not an image,
		// but BuildKit refuses one that it cannot parse.
		platform, punset, err := sc.expandFrom(st.Platform)
		if err == nil {
			err = checkPlatformFlag(platform)
		}
		if err != nil && len(punset) > 0 {
			return sc.unsetError(s.line, "--platform="+st.Platform, punset)
		}
		if err != nil {
			return sc.errAt(s.line, fmt.Errorf("%s: --platform=%s: %w", from, st.Platform, err))
		}
		unset = append(unset, punset...)
	}
	if prev, ok := sc.byName[st.Name]; ok && st.Name != "" {
		// BuildKit only warns (DuplicateStageName) and lets the later stage
		// shadow the earlier one; which one a reference means then depends
		// on where it is, so refuse rather than guess.
		return sc.errAt(s.line, fmt.Errorf("%s: duplicate stage name %q (first used on line %d)", from, st.Name, prev.line))
	}
	replaced, err := sc.stageContext(s)
	if err != nil {
		return err
	}
	if !replaced {
		s.unset = unset
		if err := sc.resolveBase(s, base); err != nil {
			return err
		}
	}
	sc.stages = append(sc.stages, s)
	if st.Name != "" {
		sc.byName[st.Name] = s
	}
	return nil
}

// stageContext applies an additional context named like stage s, which
// replaces the whole stage in BuildKit. It reports whether one did.
func (sc *dfScan) stageContext(s *dfStage) (bool, error) {
	name := s.st.Name
	// BuildKit never looks these names up as contexts.
	if name == "" || strings.EqualFold(name, scratchImage) || strings.EqualFold(name, "context") {
		return false, nil
	}
	key, err := contextKey(name)
	if err != nil {
		// BuildKit looks every stage name up as a context and fails the
		// same way on a name that is not a valid reference.
		return false, sc.errAt(s.line, fmt.Errorf("stage name %q: invalid context name: %w", name, err))
	}
	if ref, ok := sc.opts.NamedContexts[key]; ok {
		s.image, s.context = ref, true
		return true, nil
	}
	if sc.opts.LocalContexts[key] {
		s.context = true
		return true, nil
	}
	return false, nil
}

// resolveBase sets what the expanded base name of s means.
func (sc *dfScan) resolveBase(s *dfStage, base string) error {
	// BuildKit looks the base up among earlier stages as written, against
	// lowercased stage names: "FROM Builder" is an (invalid) image name.
	if prev, ok := sc.byName[base]; ok {
		s.base = prev
		return nil
	}
	if base == scratchImage {
		return nil
	}
	ref, err := sc.externalImage(base)
	if err != nil {
		if len(s.unset) > 0 {
			return sc.unsetError(s.line, s.st.BaseName, s.unset)
		}
		return sc.errAt(s.line, fmt.Errorf("FROM %s: %w", s.st.BaseName, err))
	}
	s.image = ref
	return nil
}

// externalImage resolves a name that is neither a stage nor scratch to the
// image BuildKit pulls for it; the zero Ref means a local context.
func (sc *dfScan) externalImage(name string) (imageref.Ref, error) {
	ref, err := imageref.Parse(name)
	if err != nil {
		return imageref.Ref{}, err
	}
	if len(sc.opts.NamedContexts) == 0 && len(sc.opts.LocalContexts) == 0 {
		return ref, nil
	}
	key, err := contextKey(name)
	if err != nil {
		return imageref.Ref{}, err
	}
	if c, ok := sc.opts.NamedContexts[key]; ok {
		return c, nil
	}
	if sc.opts.LocalContexts[key] {
		return imageref.Ref{}, nil
	}
	return ref, nil
}

// contextKey is the additional-context name BuildKit looks a reference up
// under (dockerui.Client.NamedContext): its familiar form without
// ":latest", so "docker.io/library/alpine:latest" is the context "alpine".
func contextKey(name string) (string, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(reference.FamiliarString(named), ":latest"), nil
}

// resolveSources finds what every COPY --from and RUN --mount=from of every
// stage names, once all stages are known, as dockerfile2llb's
// buildStageDependencyGraph does: errors there fail the build even in
// stages that are not built.
func (sc *dfScan) resolveSources() error {
	for _, s := range sc.stages {
		for _, cmd := range s.st.Commands {
			srcs, err := sc.commandSources(cmd, firstLine(cmd.Location()))
			if err != nil {
				return err
			}
			s.sources = append(s.sources, srcs...)
		}
	}
	return nil
}

// commandSources returns what cmd copies or mounts from (toCommand and
// detectRunMount in dockerfile2llb).
func (sc *dfScan) commandSources(cmd instructions.Command, line int) ([]dfSource, error) {
	switch c := cmd.(type) {
	case *instructions.CopyCommand:
		if c.From == "" {
			return nil, nil
		}
		// BuildKit refuses anything the lexer would change, variables in
		// particular, and then uses --from as written.
		res, err := sc.lex.ProcessWordWithMatches(c.From, shell.EnvsFromSlice(nil))
		if err == nil && res.Result != c.From {
			err = errors.New("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")
		}
		if err != nil {
			return nil, sc.errAt(line, fmt.Errorf("COPY --from=%s: %w", c.From, err))
		}
		src, err := sc.resolveSource(locCopyFrom, c.From, line)
		return []dfSource{src}, err
	case *instructions.RunCommand:
		var out []dfSource
		// The mounts as parsed, before expansion: BuildKit picks each
		// mount's source from this literal value (the parser already
		// refused variables in from=).
		for _, m := range instructions.GetMounts(c) {
			if m.From == "" {
				continue // the build context, or nothing (cache, tmpfs)
			}
			src, err := sc.resolveSource(locRunMount, m.From, line)
			if err != nil {
				return nil, err
			}
			out = append(out, src)
		}
		return out, nil
	}
	return nil, nil
}

// resolveSource says what a COPY --from or RUN --mount=from value names.
// Only COPY --from accepts a stage index; BuildKit takes a numeric mount
// source for an image name.
func (sc *dfScan) resolveSource(what, from string, line int) (dfSource, error) {
	src := dfSource{what: what, from: from, line: line}
	if what == locCopyFrom {
		if i, err := strconv.Atoi(from); err == nil {
			if i < 0 || i >= len(sc.stages) {
				return src, sc.errAt(line, fmt.Errorf("%s=%s: invalid stage index %d", what, from, i))
			}
			src.stage = sc.stages[i]
			return src, nil
		}
	}
	if s, ok := sc.byName[strings.ToLower(from)]; ok {
		src.stage = s
		return src, nil
	}
	if from == scratchImage {
		return src, nil
	}
	ref, err := sc.externalImage(from)
	if err != nil {
		return src, sc.errAt(line, fmt.Errorf("%s=%s: %w", what, from, err))
	}
	src.image = ref
	return src, nil
}

// checkCycles fails on stages that copy or mount from each other in a
// circle, as dockerfile2llb's validateCircularDependency does for all
// stages, built or not.
func (sc *dfScan) checkCycles() error {
	const (
		visiting = 1
		done     = 2
	)
	state := make(map[*dfStage]int)
	var visit func(s *dfStage) *dfSource
	visit = func(s *dfStage) *dfSource {
		state[s] = visiting
		for i := range s.sources {
			src := &s.sources[i]
			if src.stage == nil || state[src.stage] == done {
				continue
			}
			if state[src.stage] == visiting {
				return src
			}
			if c := visit(src.stage); c != nil {
				return c
			}
		}
		state[s] = done
		return nil
	}
	for _, s := range sc.stages {
		if state[s] != 0 {
			continue
		}
		if c := visit(s); c != nil {
			return sc.errAt(c.line, fmt.Errorf("circular dependency detected on stage %s: %s=%s closes the cycle", s.locator(), c.what, c.from))
		}
	}
	return nil
}

// reachable returns the stages the builds of targets use. As in
// dockerfile2llb's resolveStages, a used stage built FROM another stage
// also runs that stage's ONBUILD triggers, which may use further stages, so
// this repeats until nothing new turns up.
func (sc *dfScan) reachable(targets []*dfStage) (map[*dfStage]bool, error) {
	for {
		reach := make(map[*dfStage]bool)
		var walk func(s *dfStage)
		walk = func(s *dfStage) {
			if reach[s] {
				return
			}
			reach[s] = true
			if s.base != nil {
				walk(s.base)
			}
			for _, src := range s.sources {
				if src.stage != nil {
					walk(src.stage)
				}
			}
		}
		for _, t := range targets {
			walk(t)
		}
		grew := false
		for _, s := range sc.stages {
			if !reach[s] || s.base == nil || s.onbuild {
				continue
			}
			s.onbuild = true
			n, err := sc.addOnbuild(s)
			if err != nil {
				return nil, err
			}
			grew = grew || n > 0
		}
		if !grew {
			return reach, nil
		}
	}
}

// addOnbuild parses the ONBUILD triggers of the base stage of s, which
// BuildKit runs at the start of s, and adds what they copy or mount from.
// It returns how many sources it added.
func (sc *dfScan) addOnbuild(s *dfStage) (int, error) {
	var srcs []dfSource
	for _, cmd := range s.base.st.Commands {
		ob, ok := cmd.(*instructions.OnbuildCommand)
		if !ok {
			continue
		}
		// BuildKit parses a trigger on its own and reports it at the FROM
		// of the stage that runs it.
		res, err := parser.Parse(strings.NewReader(ob.Expression))
		if err == nil && len(res.AST.Children) != 1 {
			err = errors.New("onbuild trigger should be a single expression")
		}
		var ic instructions.Command
		if err == nil {
			ic, err = instructions.ParseCommand(res.AST.Children[0])
		}
		if err != nil {
			return 0, sc.errAt(s.line, fmt.Errorf("ONBUILD %s (from stage %s): %w", ob.Expression, s.base.locator(), err))
		}
		got, err := sc.commandSources(ic, s.line)
		if err != nil {
			return 0, err
		}
		if run, ok := ic.(*instructions.RunCommand); ok {
			if err := sc.checkMounts(run, s.line); err != nil {
				return 0, err
			}
		}
		srcs = append(srcs, got...)
	}
	// Triggers run before the stage's own instructions.
	s.sources = append(srcs, s.sources...)
	return len(srcs), nil
}

// checkReachable applies the checks BuildKit makes only on the stages it
// builds: mounts must be valid, sources must be stages defined earlier,
// and (this scanner's own rule) a FROM must not depend on variables that
// nobody set.
func (sc *dfScan) checkReachable(reach map[*dfStage]bool) error {
	for _, s := range sc.stages {
		if !reach[s] {
			continue
		}
		if len(s.unset) > 0 {
			return sc.unsetError(s.line, s.st.BaseName, s.unset)
		}
		for _, cmd := range s.st.Commands {
			if run, ok := cmd.(*instructions.RunCommand); ok {
				if err := sc.checkMounts(run, firstLine(run.Location())); err != nil {
					return err
				}
			}
		}
		for _, src := range s.sources {
			if src.stage == nil || src.stage.index < s.index || src.stage.context {
				continue
			}
			return sc.errAt(src.line, fmt.Errorf("%s=%s: stage %s must be defined before stage %s that uses it",
				src.what, src.from, src.stage.locator(), s.locator()))
		}
	}
	return nil
}

package dockerfile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// resolveSources finds what every COPY --from and RUN --mount=from of every
// stage names, once all stages are known, as dockerfile2llb's
// buildStageDependencyGraph does: errors there fail the build even in
// stages that are not built.
func (sc *scanner) resolveSources() error {
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
func (sc *scanner) commandSources(cmd instructions.Command, line int) ([]source, error) {
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
		return []source{src}, err
	case *instructions.RunCommand:
		var out []source
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
func (sc *scanner) resolveSource(what, from string, line int) (source, error) {
	src := source{what: what, from: from, line: line}
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
func (sc *scanner) checkCycles() error {
	const (
		visiting = 1
		done     = 2
	)
	state := make(map[*stage]int)
	var visit func(s *stage) *source
	visit = func(s *stage) *source {
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
func (sc *scanner) reachable(targets []*stage) (map[*stage]bool, error) {
	for {
		reach := make(map[*stage]bool)
		var walk func(s *stage)
		walk = func(s *stage) {
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
func (sc *scanner) addOnbuild(s *stage) (int, error) {
	var srcs []source
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
			return 0, sc.errAt(s.line, fmt.Errorf("ONBUILD %s (from stage %s): %w", ob.Expression, s.base.locator(), stableHint(err)))
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
func (sc *scanner) checkReachable(reach map[*stage]bool) error {
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

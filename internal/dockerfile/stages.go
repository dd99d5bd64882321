package dockerfile

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/imagesync/imagesync/internal/imageref"
)

// scratchImage is the empty image, which nobody pulls.
const scratchImage = "scratch"

// addStage resolves the FROM of stage i the way dockerfile2llb's
// buildDispatchStates and resolveBaseImage do: expand it with the global
// arguments, let a context named like the stage replace the stage, else
// take an earlier stage of that name, scratch, or an image (which a named
// context may in turn replace).
func (sc *scanner) addStage(i int, st *instructions.Stage) error {
	s := &stage{index: i, st: st, line: firstLine(st.Location)}
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
func (sc *scanner) stageContext(s *stage) (bool, error) {
	name := s.st.Name
	// BuildKit never looks these names up as contexts.
	if name == "" || strings.EqualFold(name, scratchImage) || strings.EqualFold(name, "context") {
		return false, nil
	}
	key, err := contextName(name)
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
func (sc *scanner) resolveBase(s *stage, base string) error {
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
func (sc *scanner) externalImage(name string) (imageref.Ref, error) {
	ref, err := imageref.Parse(name)
	if err != nil {
		return imageref.Ref{}, err
	}
	if len(sc.opts.NamedContexts) == 0 && len(sc.opts.LocalContexts) == 0 {
		return ref, nil
	}
	key, err := contextName(name)
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

// contextName is the additional-context name BuildKit looks a reference up
// under (dockerui.Client.NamedContext): its familiar form without
// ":latest", so "docker.io/library/alpine:latest" is the context "alpine".
func contextName(name string) (string, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(reference.FamiliarString(named), ":latest"), nil
}

// namedStage is a build stage with a name.
type namedStage struct {
	name string // lowercase, as BuildKit keys stages
	line int    // of its FROM
}

// parseFrom parses a FROM instruction with BuildKit's instruction parser.
func parseFrom(node *parser.Node) (*instructions.Stage, error) {
	v, err := instructions.ParseInstruction(node)
	if err != nil {
		return nil, err
	}
	st, ok := v.(*instructions.Stage)
	if !ok {
		return nil, fmt.Errorf("%s is not a FROM instruction", node.Value)
	}
	return st, nil
}

// namedStages lists the named stages of a parsed Dockerfile, in file
// order; name is the file's name in errors.
func namedStages(name string, ast *parser.Node) ([]namedStage, error) {
	var out []namedStage
	for _, node := range ast.Children {
		if !strings.EqualFold(node.Value, "from") {
			continue
		}
		st, err := parseFrom(node)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, node.StartLine, err)
		}
		if st.Name != "" {
			out = append(out, namedStage{name: st.Name, line: node.StartLine})
		}
	}
	return out, nil
}

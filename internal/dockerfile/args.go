package dockerfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// argEnv holds the build arguments visible to FROM lines. It implements
// shell.EnvGetter so that BuildKit's own lexer expands words against it.
type argEnv struct {
	keys []string
	vals map[string]string
}

func newArgEnv() *argEnv { return &argEnv{vals: make(map[string]string)} }

// Get implements shell.EnvGetter.
func (e *argEnv) Get(key string) (string, bool) {
	v, ok := e.vals[key]
	return v, ok
}

// Keys implements shell.EnvGetter.
func (e *argEnv) Keys() []string { return e.keys }

func (e *argEnv) set(key, value string) {
	if _, ok := e.vals[key]; !ok {
		e.keys = append(e.keys, key)
	}
	e.vals[key] = value
}

// applyMetaArgs adds the ARGs declared before the first FROM to env, as
// dockerfile2llb.buildMetaArgs does: a build argument overrides a declared
// ARG (only a declared one), a default is expanded with the arguments seen so
// far, and an ARG with neither stays unset.
func (sc *scanner) applyMetaArgs(env *argEnv, cmds []instructions.ArgCommand) error {
	for _, cmd := range cmds {
		for _, kp := range cmd.Args {
			if v, ok := sc.opts.BuildArgs[kp.Key]; ok {
				env.set(kp.Key, v)
				continue
			}
			if kp.Value == nil {
				continue
			}
			res, err := sc.lex.ProcessWordWithMatches(*kp.Value, env)
			if err != nil {
				return sc.errAt(firstLine(cmd.Location()), fmt.Errorf("ARG %s=%s: %w", kp.Key, *kp.Value, err))
			}
			env.set(kp.Key, res.Result)
		}
	}
	return nil
}

// expandFrom expands a word of a FROM line (the base name or --platform)
// with the global arguments, exactly as BuildKit does. It also returns the
// unset variables the word uses without a fallback, so that the caller can
// refuse to guess what the build means.
func (sc *scanner) expandFrom(word string) (string, []string, error) {
	res, err := sc.lex.ProcessWordWithMatches(word, sc.args)
	if err != nil {
		return "", nil, err
	}
	if len(res.Unmatched) == 0 {
		return res.Result, nil, nil
	}
	return res.Result, sc.bareUnset(word, res.Unmatched), nil
}

// bareUnset returns, sorted, the variables of unmatched that word uses
// without a fallback: as $V, ${V} or ${V#...}/${V%...}/${V/...}, but not in
// ${V:-x}, ${V-x}, ${V:+x} or ${V+x}, which say what to do when V is unset.
//
// The lexer reports every unset variable it looked up, fallback or not, so
// the word is expanded again with SkipUnsetEnv: BuildKit's lexer then leaves
// each unset reference in the output as written (its nested words already
// expanded), and only the form of those leftovers is inspected here.
func (sc *scanner) bareUnset(word string, unmatched map[string]struct{}) []string {
	lex := shell.NewLex(sc.escape)
	lex.SkipUnsetEnv = true
	res, err := lex.ProcessWordWithMatches(word, sc.args)
	if err != nil {
		return nil // cannot happen: the same word expanded without error
	}
	kept := res.Result
	var bare []string
	for i := 0; i < len(kept); i++ {
		if kept[i] != '$' {
			continue
		}
		name, braced, rest := leftoverRef(kept[i+1:])
		if _, ok := unmatched[name]; !ok {
			continue
		}
		if braced && (strings.HasPrefix(rest, "+") || strings.HasPrefix(rest, ":+")) {
			// The alternative of an unset variable is never used, so
			// what it references does not matter: skip it.
			i = len(kept) - len(rest) + closingBrace(rest)
			continue
		}
		if (!braced || rest == "" || strings.IndexByte("}#%/", rest[0]) >= 0) && !slices.Contains(bare, name) {
			bare = append(bare, name)
		}
	}
	slices.Sort(bare)
	return bare
}

// leftoverRef reads the variable reference that follows a '$' in the
// lexer's output: its name, whether it is in braces, and what follows the
// name.
func leftoverRef(s string) (name string, braced bool, rest string) {
	if strings.HasPrefix(s, "{") {
		braced, s = true, s[1:]
	}
	n := varNameLen(s)
	return s[:n], braced, s[n:]
}

// closingBrace is the index in s of the '}' that closes a "${" opened
// before s, allowing for nested "${...}", or len(s)-1 if there is none.
func closingBrace(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "${"):
			depth++
			i++
		case s[i] == '}':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return len(s) - 1
}

// varNameLen is the length of the variable name at the start of s, read
// like shell.Lex reads it: a run of digits, one special parameter, or a run
// of letters, digits and underscores.
func varNameLen(s string) int {
	r, size := utf8.DecodeRuneInString(s)
	switch {
	case size == 0:
		return 0
	case unicode.IsDigit(r):
		n := size
		for n < len(s) {
			r, size := utf8.DecodeRuneInString(s[n:])
			if !unicode.IsDigit(r) {
				break
			}
			n += size
		}
		return n
	case strings.ContainsRune("@*#?-$!", r):
		return size
	}
	for i, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' {
			return i
		}
	}
	return len(s)
}

// unsetError explains a FROM that uses build arguments nobody set.
func (sc *scanner) unsetError(line int, from string, vars []string) error {
	what := "variable " + vars[0] + " is"
	if len(vars) > 1 {
		what = "variables " + strings.Join(vars, ", ") + " are"
	}
	err := sc.errAt(line, fmt.Errorf("FROM %s: %s %w: declare a default (ARG %s=<value>) before the first FROM or set it in build_args",
		from, what, ErrUnsetArg, vars[0]))
	if e, ok := err.(*Error); ok {
		e.Unset = vars
	}
	return err
}

// checkMounts validates the --mount flags of a RUN the way BuildKit does
// when it runs the instruction, expanding them with the lexer; a mount
// whose values use variables is not checked, since their values depend on
// the base image's environment.
func (sc *scanner) checkMounts(c *instructions.RunCommand, line int) error {
	errVariable := errors.New("mount uses a variable")
	err := c.Expand(func(word string) (string, error) {
		res, err := sc.lex.ProcessWordWithMatches(word, shell.EnvsFromSlice(nil))
		if err == nil && len(res.Unmatched) > 0 {
			err = errVariable
		}
		return res.Result, err
	})
	if err != nil && !errors.Is(err, errVariable) {
		return sc.errAt(line, fmt.Errorf("RUN --mount: %w", stableHint(err)))
	}
	return nil
}

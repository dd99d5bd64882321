package dockerfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/util/suggest"
)

// Error is a Dockerfile that Scan refuses, with the place of the problem.
type Error struct {
	Path string // Options.Path
	Line int    // 1-based; 0 when the problem is the file as a whole
	Err  error
	// Template reports that the line, or the value Err quotes, holds "{{":
	// the file looks like a template that another tool renders before
	// docker reads it.
	Template bool
	// Unset are the build arguments a FROM uses without a value or a
	// fallback (ErrUnsetArg), sorted: what build_args must give.
	Unset []string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNoFrom is a file without a FROM instruction: nothing docker can
// build, such as a fragment that other files include.
var ErrNoFrom = errors.New("no FROM instruction: this is not a Dockerfile docker can build " +
	"(a fragment that another file includes?)")

// ErrUnsetArg is a FROM that needs a build argument nobody set (and that
// has no fallback), so that what it names would be a guess.
var ErrUnsetArg = errors.New("not set")

// errAt is err at a 1-based line of the file (0: the file as a whole). It
// marks the error Template when that line, or the value err quotes, holds
// "{{".
func (sc *scanner) errAt(line int, err error) error {
	e := &Error{Path: sc.opts.Path, Line: line, Err: err}
	if line > 0 && line <= len(sc.lines) {
		e.Template = strings.Contains(sc.lines[line-1]+"\n"+err.Error(), "{{")
	}
	return e
}

// buildkitErr formats an error of BuildKit's parser with the line its
// parser.LocationError carries.
func (sc *scanner) buildkitErr(err error) error {
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

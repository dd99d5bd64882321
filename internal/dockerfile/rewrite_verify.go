package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

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

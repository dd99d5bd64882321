package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/imagesync/imagesync/internal/view"
	"github.com/imagesync/imagesync/internal/workspace"
)

// diffArgs are the arguments of `imagesync diff OLD.lock NEW.lock`.
type diffArgs struct {
	globals
	output
	Old, New string
}

func (a *diffArgs) define(fs *pflag.FlagSet) { a.output.define(fs) }

func (a *diffArgs) operands(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want two lockfiles, OLD and NEW, got %d", len(args))
	}
	a.Old, a.New = args[0], args[1]
	return a.output.resolve()
}

func (a *diffArgs) run(_ context.Context, e *env) (int, error) {
	if err := e.setup(&a.globals); err != nil {
		return exitError, err
	}
	d, err := workspace.DiffLocks(a.Old, a.New)
	if err != nil {
		return exitError, err
	}
	ld := view.LockDiff{Old: a.Old, New: a.New, Diff: d}
	switch a.format {
	case view.JSON:
		err = view.WriteLockDiffJSON(e.stdout, ld)
	case view.Markdown:
		err = view.WriteLockDiffMarkdown(e.stdout, ld)
	default:
		err = view.WriteLockDiff(e.stdout, ld)
	}
	if err != nil {
		return exitError, err
	}
	return exitOK, nil
}

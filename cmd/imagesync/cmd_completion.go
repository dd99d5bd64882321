package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/imagesync/imagesync/internal/atomicfile"
)

// completionArgs are the arguments of `imagesync completion SHELL`.
type completionArgs struct {
	globals
	Shell string
}

func (a *completionArgs) define(*pflag.FlagSet) {}

func (a *completionArgs) operands(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("which shell? %s", strings.Join(completionShells(), ", "))
	}
	a.Shell = args[0]
	_, err := completionScript(a.Shell)
	return err
}

func (a *completionArgs) run(_ context.Context, e *env) (int, error) {
	script, err := completionScript(a.Shell)
	if err != nil {
		return exitError, err
	}
	_, err = io.WriteString(e.stdout, script)
	return exitOK, err
}

// manArgs are the arguments of `imagesync man`.
type manArgs struct {
	globals
	Dir string
}

func (a *manArgs) define(fs *pflag.FlagSet) {
	fs.StringVarP(&a.Dir, "output", "o", ".", "write the pages into `DIR`, which must exist")
}

func (a *manArgs) operands(args []string) error { return noOperands(args) }

func (a *manArgs) run(_ context.Context, e *env) (int, error) {
	pages := manPages()
	for _, p := range pages {
		if err := atomicfile.Write(filepath.Join(a.Dir, p.name), []byte(p.text)); err != nil {
			return exitError, fmt.Errorf("write man page: %w", err)
		}
	}
	_, err := fmt.Fprintf(e.stdout, "Wrote %d man pages to %s.\n", len(pages), a.Dir)
	return exitOK, err
}

// Command imagesync pins every container image a repository needs to a
// digest in images.lock and mirrors exactly those digests to the team's
// registry. This package only parses flags and wires the internal packages
// together; it holds no logic of its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
)

// Exit codes, part of the command-line interface (see README).
const (
	exitOK      = 0 // success; for plan --detailed-exitcode: no changes
	exitError   = 1 // an error, or a stale lock with lock --check
	exitUsage   = 2 // a mistake in the command line
	exitChanges = 2 // plan --detailed-exitcode: changes pending
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// compose-go warns through logrus, a process-wide logger; imagesync
	// reports what matters itself, so the library must not print.
	logrus.SetOutput(io.Discard)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		stdinTTY: isTerminal(os.Stdin), stdoutTTY: isTerminal(os.Stdout)}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// env is what a command reads from and writes to.
type env struct {
	stdin               io.Reader
	stdout, stderr      io.Writer
	stdinTTY, stdoutTTY bool
	logger              *slog.Logger
}

func run(ctx context.Context, e *env, args []string) int {
	stdout, stderr := e.stdout, e.stderr
	var g globals
	name, rest, err := splitGlobal(args, &g)
	if err != nil {
		fmt.Fprintf(stderr, "imagesync: %v\n\n", err)
		writeUsage(stderr)
		return exitUsage
	}
	var code int
	switch name {
	case "lock":
		code, err = runLock(ctx, e, rest)
	case "images":
		code, err = runImages(ctx, e, rest)
	case "plan":
		code, err = runPlan(ctx, e, rest)
	case "apply":
		code, err = runApply(ctx, e, rest)
	case "verify":
		code, err = runVerify(ctx, e, rest)
	case "version":
		fmt.Fprintf(stdout, "imagesync %s\n", version)
	case "help":
		code = runHelp(stdout, stderr, rest)
	default:
		err = usagef("unknown command %q", name)
	}
	var uerr *usageError
	switch {
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "imagesync: %v\nRun 'imagesync help' for usage.\n", err)
		return exitUsage
	case errors.Is(err, errReported):
		return exitError
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "imagesync: interrupted")
		return exitError
	case err != nil:
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	return code
}

// setup applies the global flags: -C, then the logger.
func (e *env) setup(g *globals) error {
	if g.Dir != "" {
		if err := os.Chdir(g.Dir); err != nil {
			return fmt.Errorf("-C: %w", err)
		}
	}
	level := slog.LevelWarn
	if g.Debug {
		level = slog.LevelDebug
	}
	e.logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

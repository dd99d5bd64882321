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

	"github.com/imagesync/imagesync/internal/helmrender"
	"github.com/imagesync/imagesync/internal/view"
	"github.com/imagesync/imagesync/internal/workspace"
)

// Exit codes, part of the command-line interface (see README).
const (
	exitOK = 0 // success; for plan --detailed-exitcode: no changes
	// exitError is any error: usage errors too, as Terraform's, so that a
	// mistyped flag is never taken for "changes pending"; and a stale lock
	// with lock --check.
	exitError   = 1
	exitChanges = 2 // only plan --detailed-exitcode: changes pending
)

func main() {
	// The hidden subcommand that renders one Helm release under limits,
	// in a child process the command starts (helmrender.Sandbox).
	if len(os.Args) > 1 && os.Args[1] == helmrender.ChildCommand {
		os.Exit(helmrender.ServeChild(os.Args[2:], os.Stdin, os.Stdout))
	}
	// compose-go warns through logrus, a process-wide logger; imagesync
	// reports what matters itself, so the library must not print.
	logrus.SetOutput(io.Discard)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		stdinTTY: isTerminal(os.Stdin), stdoutTTY: isTerminal(os.Stdout), lookupEnv: os.LookupEnv}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// env is what a command reads from and writes to.
type env struct {
	stdin               io.Reader
	stdout, stderr      io.Writer
	stdinTTY, stdoutTTY bool
	// lookupEnv reads the environment (GITHUB_* variables); nil reads
	// none, as in tests.
	lookupEnv func(string) (string, bool)
	logger    *slog.Logger
	// ws is the repository the command opened, for the places of the
	// errors it reports; fixLock is the command that updates its lock.
	ws      *workspace.Workspace
	fixLock string
}

// getenv is the value of an environment variable, "" when unset.
func (e *env) getenv(key string) string {
	if e.lookupEnv == nil {
		return ""
	}
	v, _ := e.lookupEnv(key)
	return v
}

// run runs the command line args and returns the exit code, having written
// any error to stderr.
func run(ctx context.Context, e *env, args []string) int {
	code, err := dispatch(ctx, e, args)
	return report(e, code, err)
}

// report writes err, if any, as every error is written (and, in a GitHub
// Actions job, as annotations on the files it is about), and returns the
// exit code: code when there is no error, else exitError.
func report(e *env, code int, err error) int {
	stderr := e.stderr
	var uerr *usageError
	var diags *workspace.DiagnosticsError
	var stale *workspace.StaleLockError
	switch {
	case err == nil:
		return code
	case errors.As(err, &diags):
		if werr := view.WriteDiagnostics(stderr, diags.Files, diags.Diags); werr != nil {
			view.WriteError(stderr, err)
		}
		gh := e.github()
		gh.annotate(view.DiagnosticAnnotations(diags.Diags, gh.path))
	case errors.As(err, &stale):
		fix := e.fixLock
		if fix == "" {
			fix = "imagesync lock"
		}
		view.WriteStaleLock(stderr, stale, fix)
		if e.ws != nil {
			gh := e.github()
			gh.annotate(view.StaleLockAnnotations(stale, e.ws.LockFile(), gh.path(e.ws.LockPath()), fix))
		}
	case errors.As(err, &uerr):
		hint := "imagesync help"
		if uerr.command != "" {
			hint = "imagesync " + uerr.command + " --help"
		}
		view.WriteError(stderr, fmt.Errorf("%w\nRun %q for usage.", err, hint))
	case errors.Is(err, errReported):
	case errors.Is(err, context.Canceled):
		view.WriteError(stderr, errors.New("interrupted"))
	default:
		view.WriteError(stderr, err)
		e.github().annotate([]view.Annotation{{Level: "error", Title: "imagesync", Message: err.Error()}})
	}
	return exitError
}

// dispatch parses the command line and runs the command.
func dispatch(ctx context.Context, e *env, args []string) (int, error) {
	c, a, err := parseCommandLineEnv(args, e.getenv)
	switch {
	case errors.Is(err, errNoCommand):
		view.WriteError(e.stderr, err)
		fmt.Fprintf(e.stderr, "\n%s", usage())
		return exitError, errReported
	case errors.Is(err, errHelp):
		_, err = io.WriteString(e.stdout, commandHelp(c))
		return exitOK, err
	case err != nil:
		return exitError, err
	}
	return a.run(ctx, e)
}

// setup applies the global flags: -C, then the logger.
func (e *env) setup(g *globals) error {
	if g.Dir != "" {
		if err := os.Chdir(g.Dir); err != nil {
			return fmt.Errorf("-C: %w", err)
		}
	}
	e.logger = g.logger(e.stderr)
	return nil
}

package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/imagesync/imagesync/internal/helmrender"
	"github.com/imagesync/imagesync/internal/view"
	"github.com/imagesync/imagesync/internal/workspace"
)

// errReported means the problem was already told (a cancelled apply, a
// missing command); the command only has to exit 1.
var errReported = errors.New("reported")

// openWorkspace applies the global flags and opens the repository's
// images.hcl, writing its warnings; maxWait is --max-wait (0 for the
// commands that talk to no registry).
func openWorkspace(e *env, g *globals, maxWait time.Duration) (*workspace.Workspace, error) {
	if err := e.setup(g); err != nil {
		return nil, err
	}
	e.fixLock = nextCommand(g, "lock")
	sb, err := helmSandbox()
	if err != nil {
		return nil, err
	}
	w, err := workspace.Open(workspace.Options{ConfigFile: g.Config, LockFile: g.Lockfile, Logger: e.logger, MaxWait: maxWait,
		OnWarning:   func(msg string) { view.WriteWarning(e.stderr, msg) },
		HelmSandbox: sb})
	if err != nil {
		return nil, err
	}
	e.ws = w
	if warn := w.Warnings(); warn != nil {
		if err := view.WriteDiagnostics(e.stderr, warn.Files, warn.Diags); err != nil {
			return nil, err
		}
		gh := e.github()
		gh.annotate(view.DiagnosticAnnotations(warn.Diags, gh.path))
	}
	return w, nil
}

// helmSandbox renders Helm charts in a child process of this program,
// bounded: a chart's templates are the repository's code.
func helmSandbox() (helmrender.Sandbox, error) {
	exe, err := os.Executable()
	if err != nil {
		return helmrender.Sandbox{}, fmt.Errorf("find the imagesync program, which renders Helm charts in a child process: %w", err)
	}
	return helmrender.Sandbox{Command: []string{exe, helmrender.ChildCommand}}, nil
}

// markdownOptions are the options of the markdown views: the lockfile
// named as in the repository.
func (e *env) markdownOptions(w *workspace.Workspace) view.MarkdownOptions {
	name := w.LockName()
	if e.getenv("GITHUB_WORKSPACE") != "" {
		name = e.github().path(w.LockPath())
	}
	return view.MarkdownOptions{LockName: name}
}

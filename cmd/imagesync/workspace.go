package main

import (
	"errors"

	"github.com/imagesync/imagesync/internal/view"
	"github.com/imagesync/imagesync/internal/workspace"
)

// errReported means the problem was already told (a cancelled apply, a
// missing command); the command only has to exit 1.
var errReported = errors.New("reported")

// openWorkspace applies the global flags and opens the repository's
// images.hcl, writing its warnings.
func openWorkspace(e *env, g *globals) (*workspace.Workspace, error) {
	if err := e.setup(g); err != nil {
		return nil, err
	}
	w, err := workspace.Open(workspace.Options{ConfigFile: g.Config, LockFile: g.Lockfile, Logger: e.logger,
		OnWarning: func(msg string) { view.WriteWarning(e.stderr, msg) }})
	if err != nil {
		return nil, err
	}
	if warn := w.Warnings(); warn != nil {
		if err := view.WriteDiagnostics(e.stderr, warn.Files, warn.Diags); err != nil {
			return nil, err
		}
	}
	return w, nil
}

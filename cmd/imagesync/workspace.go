package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/view"
)

// errReported means the problem was already told (HCL diagnostics, a
// stale lock, a cancelled apply); the command only has to exit 1.
var errReported = errors.New("reported")

// workspace is a loaded images.hcl with the paths derived from it.
type workspace struct {
	parser   *hclparse.Parser
	cfg      *config.Config
	lockPath string
}

// loadWorkspace applies the global flags and loads the config, writing its
// diagnostics with source snippets.
func loadWorkspace(e *env, g *globals) (*workspace, error) {
	if err := e.setup(g); err != nil {
		return nil, err
	}
	w := &workspace{parser: hclparse.NewParser()}
	cfg, diags := config.Load(w.parser, g.Config)
	if err := w.report(e, diags); err != nil {
		return nil, err
	}
	w.cfg = cfg
	w.lockPath = g.Lockfile
	if !filepath.IsAbs(w.lockPath) {
		w.lockPath = filepath.Join(cfg.Dir, w.lockPath)
	}
	return w, nil
}

// report writes diagnostics (warnings too) and returns errReported when
// they hold an error.
func (w *workspace) report(e *env, diags hcl.Diagnostics) error {
	if len(diags) == 0 {
		return nil
	}
	if err := view.WriteDiagnostics(e.stderr, w.parser.Files(), diags); err != nil {
		return fmt.Errorf("write diagnostics: %w", err)
	}
	if diags.HasErrors() {
		return errReported
	}
	return nil
}

// loadLock reads images.lock; a missing file is (nil, nil, nil).
func (w *workspace) loadLock(e *env) (*lock.Lock, []byte, error) {
	l, src, diags, err := lock.Load(w.parser, w.lockPath)
	if errors.Is(err, lock.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if err := w.report(e, diags); err != nil {
		return nil, nil, err
	}
	return l, src, nil
}

// discover runs discovery on the repository.
func (w *workspace) discover(ctx context.Context) (*discover.Result, error) {
	return discover.Run(ctx, w.cfg)
}

// relLock is the lockfile path as shown to the user.
func (w *workspace) relLock() string {
	wd, err := os.Getwd()
	if err != nil {
		return w.lockPath
	}
	if rel, err := filepath.Rel(wd, w.lockPath); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return w.lockPath
}

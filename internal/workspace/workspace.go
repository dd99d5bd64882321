// Package workspace runs imagesync's operations on one repository: the
// images.hcl that configures it, what discovery finds in it, and its
// images.lock. It is the one place that joins the stages config ->
// discover -> lock -> diff -> apply, so that cmd/imagesync only parses
// flags, calls one operation and hands the result to internal/view.
// Operations never print; what they find wrong comes back as errors, user
// errors as *DiagnosticsError and a stale lock as *StaleLockError.
package workspace

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/helmrender"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

// Options locate the repository's files.
type Options struct {
	// ConfigFile is images.hcl; relative paths are to the working
	// directory. Default "images.hcl".
	ConfigFile string
	// LockFile is images.lock; a relative path is to the config file's
	// directory. Default "images.lock".
	LockFile string
	// Logger receives registry requests and decisions; the default
	// discards them.
	Logger *slog.Logger
	// MaxWait is the longest Retry-After waited for on any registry; a
	// longer one stops the operation (registry.WaitTooLongError). Default
	// registry.DefaultMaxWait (5 minutes).
	MaxWait time.Duration
	// OnWarning receives each warning of discovery (an "image" field of
	// a custom resource that is no reference, left out), once per run;
	// the default drops them.
	OnWarning func(msg string)
	// HelmSandbox is where the Helm releases of discover.helm render:
	// the zero value renders them in this process, unbounded; the command
	// renders each in a child process bounded in time and memory
	// (helmrender.Sandbox).
	HelmSandbox helmrender.Sandbox
}

// Workspace is a repository with its loaded images.hcl. Its operations are
// meant to run one after the other, as one command does.
type Workspace struct {
	parser    *hclparse.Parser
	cfg       *config.Config
	lockPath  string
	logger    *slog.Logger
	maxWait   time.Duration
	onWarning func(string)
	helm      helmrender.Sandbox

	clientOnce sync.Once
	client     *registry.Client

	cur      *current        // the checked lock, once an operation needed it
	warnings hcl.Diagnostics // of images.hcl, for Warnings
}

// Open loads images.hcl. Errors in it are a *DiagnosticsError; its
// warnings are kept for Warnings.
func Open(opts Options) (*Workspace, error) {
	if opts.ConfigFile == "" {
		opts.ConfigFile = "images.hcl"
	}
	if opts.LockFile == "" {
		opts.LockFile = lock.DefaultFilename
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OnWarning == nil {
		opts.OnWarning = func(string) {}
	}
	w := &Workspace{parser: hclparse.NewParser(), logger: opts.Logger, maxWait: opts.MaxWait, onWarning: opts.OnWarning,
		helm: opts.HelmSandbox}
	cfg, diags := config.Load(w.parser, opts.ConfigFile)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Files: w.Files(), Diags: diags}
	}
	w.cfg, w.warnings = cfg, diags
	w.lockPath = opts.LockFile
	if !filepath.IsAbs(w.lockPath) {
		w.lockPath = filepath.Join(cfg.Dir, w.lockPath)
	}
	return w, nil
}

// Warnings are images.hcl's warnings, nil when there are none.
func (w *Workspace) Warnings() *DiagnosticsError {
	if len(w.warnings) == 0 {
		return nil
	}
	return &DiagnosticsError{Files: w.Files(), Diags: w.warnings}
}

// Files are the HCL files read so far (images.hcl, images.lock), for
// rendering diagnostics with their source.
func (w *Workspace) Files() map[string]*hcl.File { return w.parser.Files() }

// Config is the loaded images.hcl.
func (w *Workspace) Config() *config.Config { return w.cfg }

// LockFile is images.lock as parsed, for the lines of its blocks; nil
// when it has not been read or does not exist.
func (w *Workspace) LockFile() *hcl.File { return w.parser.Files()[w.lockPath] }

// LockPath is the lockfile's path, absolute.
func (w *Workspace) LockPath() string { return w.lockPath }

// LockName is the lockfile's path as the user knows it: relative to the
// working directory when it lies below it.
func (w *Workspace) LockName() string { return displayPath(w.lockPath) }

// displayPath is an absolute path as the user knows it: relative to the
// working directory when it lies below it.
func displayPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// registry returns the client of the registries images.hcl names, made on
// first use.
func (w *Workspace) registry() *registry.Client {
	w.clientOnce.Do(func() {
		w.client = registry.New(w.cfg, registry.WithLogger(w.logger), registry.WithMaxWait(w.maxWait))
	})
	return w.client
}

// Discover runs discovery on the repository and hands its warnings to
// Options.OnWarning.
func (w *Workspace) Discover(ctx context.Context) (*discover.Result, error) {
	found, err := discover.Run(ctx, w.cfg, discover.WithHelmSandbox(w.helm))
	if err != nil {
		return nil, err
	}
	for _, msg := range found.Warnings {
		w.onWarning(msg)
	}
	return found, nil
}

// loadLock reads images.lock; nil when there is none yet.
func (w *Workspace) loadLock() (*lock.File, error) {
	f, diags := lock.Load(w.parser, w.lockPath)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Files: w.Files(), Diags: diags}
	}
	return f, nil
}

// LockedImages reads images.lock, which must exist.
func (w *Workspace) LockedImages() (*lock.Lock, error) {
	f, err := w.loadLock()
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("%s does not exist: run \"imagesync lock\" first", w.LockName())
	}
	return f.Lock, nil
}

package scaffold

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/atomicfile"
	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/helmrender"
	"github.com/imagesync/imagesync/internal/liblog"
)

// ErrExist is returned (wrapped) by Init when the config file exists.
var ErrExist = atomicfile.ErrExist

// Result is what Init wrote.
type Result struct {
	Path      string // the config file, as given
	Target    string
	Repo      *Repo
	Discovery *Discovery
	// Found is what discovery finds with the file as written (what
	// `imagesync images --discovered` lists), nil when it fails; Problems
	// is then its error.
	Found    *discover.Result
	Problems error
	// Gitignore is what init did about imagesync's cache directory.
	Gitignore Gitignore
}

// Init scans the repository around configPath (the directory it is in),
// writes a config mirroring to target there, atomically, and never
// replaces an existing file. The text is checked to decode with
// internal/config, and run through discovery, before it is written.
// Charts render as the options say: give WithHelmSandbox, since init
// runs the templates of a repository it has not yet been told to trust.
func Init(ctx context.Context, configPath, target string, opts ...Option) (*Result, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if _, err := os.Lstat(configPath); err == nil {
		return nil, existsError(configPath)
	}
	if err := checkTarget(target); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(filepath.Dir(configPath))
	if err != nil {
		return nil, err
	}
	// What the libraries print while init reads and loads each source is
	// dropped: the discovery run on the file reports it, once, as warnings.
	capture := liblog.Start()
	repo, err := Scan(ctx, root)
	if err != nil {
		capture.Stop()
		return nil, err
	}
	d := Propose(ctx, root, repo, opts...)
	capture.Stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	text := Render(d, target)
	cfg, diags := config.Parse(hclparse.NewParser(), configPath, root, text)
	if diags.HasErrors() {
		// A bug of ours: the user could do nothing about it.
		return nil, fmt.Errorf("the images.hcl init generated does not decode (please report this): %s", summary(diags))
	}
	res := &Result{Path: configPath, Target: target, Repo: repo, Discovery: d}
	res.Found, res.Problems = discover.Run(ctx, cfg, discover.WithHelmSandbox(o.helm))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteNew(configPath, text); err != nil {
		if errors.Is(err, atomicfile.ErrExist) {
			return nil, existsError(configPath) // created while we scanned
		}
		return nil, err
	}
	res.Gitignore = ignoreCache(root)
	return res, nil
}

// Option changes how Init and Propose load what they find.
type Option func(*options)

type options struct {
	helm helmrender.Sandbox
}

// WithHelmSandbox renders the charts init proposes in a child process as
// s says, each bounded in time and memory, as discovery does; without it
// they render in this process, unbounded (see helmrender.Sandbox).
func WithHelmSandbox(s helmrender.Sandbox) Option {
	return func(o *options) { o.helm = s }
}

func existsError(path string) error { return &existError{path: path} }

// existError is a config file init found in its way; it is ErrExist.
type existError struct{ path string }

func (e *existError) Error() string {
	return e.path + " already exists: init never overwrites it; edit it, or remove it and run init again"
}

func (e *existError) Is(target error) bool { return target == ErrExist }

// checkTarget checks a --target value as images.hcl's target block would.
func checkTarget(target string) error {
	src := fmt.Sprintf("target {\n  registry = %s\n}\n", quote(target))
	if _, diags := config.Parse(hclparse.NewParser(), "--target", ".", []byte(src)); diags.HasErrors() {
		return fmt.Errorf("--target %s: %s", quote(target), summary(diags))
	}
	return nil
}

// summary joins the details (else the summaries) of the error diagnostics.
func summary(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags.Errs() {
		var de *hcl.Diagnostic
		if errors.As(d, &de) && de.Detail != "" {
			parts = append(parts, de.Detail)
		} else {
			parts = append(parts, d.Error())
		}
	}
	return strings.Join(parts, "; ")
}

package workspace

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/imagesync/imagesync/internal/atomicfile"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/render"
)

// RenderKind names what Render writes. A new kind is one more constant
// and one more case in Render.
type RenderKind string

const (
	// RenderCompose is a compose override running every service from the
	// target registry by digest.
	RenderCompose RenderKind = "compose"
	// RenderEnv is KEY=reference lines from images.hcl's render.env.
	RenderEnv RenderKind = "env"
	// RenderJSON is every locked image as {"source", "target", "digest"}.
	RenderJSON RenderKind = "json"
	// RenderKubernetes is a YAML stream (helm template's, kustomize
	// build's, manifests) with every image of the lock rewritten to the
	// target registry by digest.
	RenderKubernetes RenderKind = "kubernetes"
)

// RenderOptions control Render.
type RenderOptions struct {
	Kind RenderKind
	// Out is the file to write, atomically, relative to the working
	// directory; "" leaves the bytes to the caller (standard output).
	Out string
	// Input is the YAML stream RenderKubernetes rewrites.
	Input io.Reader
	// Strict makes an image images.lock does not hold an error
	// (RenderKubernetes): nothing is written, the result says which.
	Strict bool
	// Project is the compose_project RenderCompose writes the override
	// of, by its label; "" when images.hcl declares one project.
	Project string
}

// RenderResult is what Render wrote.
type RenderResult struct {
	Data []byte
	Out  string // the file written; "" when none
	// Services and LeftAlone are set for compose: how many services the
	// override pins, and the services it leaves as they are, with why.
	// For kubernetes, Services counts the image fields rewritten and
	// LeftAlone the fields left as they were; Unlocked counts the images
	// among them that images.lock does not hold.
	Services  int
	LeftAlone []string
	Unlocked  int
}

// Render writes what a deployment needs to run the stack from the target
// registry by the digests of images.lock, which must be current. The
// digests of the repository's own builds are read from the target, where
// the image must carry the locked inputs: the lock never records them,
// apply does not write it.
func (w *Workspace) Render(ctx context.Context, opts RenderOptions) (*RenderResult, error) {
	cur, err := w.current(ctx)
	if err != nil {
		return nil, err
	}
	l := cur.file.Lock
	var res *RenderResult
	switch opts.Kind {
	case RenderCompose:
		res, err = w.renderCompose(ctx, l, opts.Out, opts.Project)
	case RenderEnv:
		res, err = w.renderEnv(ctx, l)
	case RenderJSON:
		res, err = w.renderJSON(ctx, l)
	case RenderKubernetes:
		res, err = w.renderKubernetes(ctx, l, opts.Input)
	default:
		return nil, fmt.Errorf("render %q: unknown kind", opts.Kind)
	}
	if err != nil {
		return nil, err
	}
	if opts.Strict && res.Unlocked > 0 {
		return res, fmt.Errorf("render %s --strict: %s not in images.lock (listed above); nothing written", opts.Kind, plural(res.Unlocked, "image"))
	}
	if opts.Out != "" {
		if err := atomicfile.Write(opts.Out, res.Data); err != nil {
			return nil, err
		}
		res.Out = opts.Out
	}
	return res, nil
}

func (w *Workspace) renderCompose(ctx context.Context, l *lock.Lock, out, name string) (*RenderResult, error) {
	projects, warnings, err := discover.LoadProjects(ctx, w.cfg)
	if err != nil {
		return nil, err
	}
	for _, msg := range warnings {
		w.onWarning(msg)
	}
	project, err := w.composeProject(projects, name)
	if err != nil {
		return nil, err
	}
	pins, err := w.pins(ctx, l, l.Builds)
	if err != nil {
		return nil, err
	}
	opts := render.ComposeOptions{Out: out}
	if out == "" {
		opts.Out = "<this file>" // written to standard output
	}
	for _, f := range project.Files {
		opts.Files = append(opts.Files, displayPath(filepath.Join(w.cfg.Dir, filepath.FromSlash(f))))
	}
	r, err := render.Compose(project, pins, opts)
	if err != nil {
		return nil, err
	}
	return &RenderResult{Data: r.Data, Services: r.Services, LeftAlone: r.LeftAlone}, nil
}

// composeProject picks the project render compose writes the override of:
// the one there is, or the one called name when images.hcl declares
// several (each needs its own override).
func (w *Workspace) composeProject(projects []*discover.ComposeProject, name string) (*discover.ComposeProject, error) {
	if len(projects) == 0 {
		return nil, fmt.Errorf("render compose: the repository has no compose file (set discover.compose in %s)", w.cfg.Filename)
	}
	var labels []string
	for _, p := range projects {
		if name != "" && p.Qualifier == name {
			return p, nil
		}
		labels = append(labels, p.Qualifier)
	}
	switch {
	case name == "" && len(projects) == 1:
		return projects[0], nil
	case name == "":
		return nil, fmt.Errorf("render compose: %s declares %d compose projects (%s): name one with --project", w.cfg.Filename, len(projects), strings.Join(labels, ", "))
	case len(projects) == 1 && projects[0].Qualifier == "":
		return nil, fmt.Errorf("render compose --project %s: %s declares a single compose project: leave --project out", name, w.cfg.Filename)
	}
	return nil, fmt.Errorf("render compose --project %s: %s declares no such compose project (%s)", name, w.cfg.Filename, strings.Join(labels, ", "))
}

func (w *Workspace) renderEnv(ctx context.Context, l *lock.Lock) (*RenderResult, error) {
	var builds []lock.Build
	for _, e := range w.cfg.Render.Env {
		if b := l.Build(e.Ref); b != nil && !slices.ContainsFunc(builds, func(x lock.Build) bool { return x.Ref == b.Ref }) {
			builds = append(builds, *b)
		}
	}
	pins, err := w.pins(ctx, l, builds)
	if err != nil {
		return nil, err
	}
	data, diags := render.Env(w.cfg.Render, pins)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Files: w.Files(), Diags: diags}
	}
	return &RenderResult{Data: data}, nil
}

func (w *Workspace) renderJSON(ctx context.Context, l *lock.Lock) (*RenderResult, error) {
	pins, err := w.pins(ctx, l, l.Builds)
	if err != nil {
		return nil, err
	}
	data, err := render.JSON(pins)
	if err != nil {
		return nil, err
	}
	return &RenderResult{Data: data}, nil
}

// maxRenderInput bounds the YAML stream render kubernetes reads: the
// output of helm template for a large chart is well under it.
const maxRenderInput = 64 << 20

func (w *Workspace) renderKubernetes(ctx context.Context, l *lock.Lock, in io.Reader) (*RenderResult, error) {
	if in == nil {
		return nil, fmt.Errorf("render kubernetes: no input")
	}
	stream, err := io.ReadAll(io.LimitReader(in, maxRenderInput+1))
	if err != nil {
		return nil, fmt.Errorf("render kubernetes: read the input: %w", err)
	}
	if len(stream) > maxRenderInput {
		return nil, fmt.Errorf("render kubernetes: the input is larger than %d bytes", maxRenderInput)
	}
	pins, err := w.pins(ctx, l, l.Builds)
	if err != nil {
		return nil, err
	}
	r, err := render.Kubernetes(stream, pins)
	if err != nil {
		return nil, fmt.Errorf("render kubernetes: %w", err)
	}
	return &RenderResult{Data: r.Data, Services: r.Rewritten, LeftAlone: r.LeftAlone, Unlocked: r.Unlocked}, nil
}

// pins are the lock's images with the given builds read from the target.
func (w *Workspace) pins(ctx context.Context, l *lock.Lock, builds []lock.Build) (*render.Pins, error) {
	built, err := w.BuiltDigests(ctx, builds)
	if err != nil {
		return nil, err
	}
	return render.NewPins(l, built), nil
}

// BuiltDigests reads from the target registry what it holds for each
// build: the digest its target reference points at when that image
// carries the locked inputs, else why not.
func (w *Workspace) BuiltDigests(ctx context.Context, builds []lock.Build) ([]diff.Built, error) {
	if len(builds) == 0 {
		return nil, nil
	}
	return diff.ObserveBuilds(ctx, w.registry(), builds)
}

// plural is a count with its noun: "1 image", "2 images".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

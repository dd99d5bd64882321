package main

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/imagesync/imagesync/internal/repofs"
	"github.com/imagesync/imagesync/internal/view"
	"github.com/imagesync/imagesync/internal/workspace"
)

// renderCommands are the subcommands of `imagesync render`, one per kind
// of output. A new kind (kubernetes, once its image fields are known to
// discovery) is one more row here, with its own arguments when it needs
// more than -o, and one more workspace.RenderKind.
func renderCommands() []command {
	return []command{
		{
			name: "compose", synopsis: "[-o FILE] [--project NAME]",
			summary: "a compose override running every service from the target registry",
			help: `Writes a compose override file that sets, for every service of the compose
project (every profile), image: <target repository>@<digest>, and for the
services that build their image build: !reset null, so that compose pulls the
mirrored image instead of building it:

  docker compose -f docker-compose.yml -f compose.mirror.yaml up

Services whose image images.lock does not hold are left as they are and listed
on stderr. A built image must be in the target with the locked inputs. When
images.hcl declares several compose_project blocks, --project names the one
to write the override of.`,
			args: func() arguments { return &renderArgs{kind: workspace.RenderCompose, Out: "compose.mirror.yaml"} },
		},
		{
			name: "env", synopsis: "[-o FILE]",
			summary: "KEY=reference lines from images.hcl's render.env",
			help: `Writes one KEY=<target repository>@<digest> line per entry of images.hcl's
render block, for compose files that read images from variables:

  render {
    env = { REDIS_IMAGE = "docker.io/library/redis:7-alpine" }
  }

An entry naming an image images.lock does not hold is an error on its line.`,
			args: func() arguments { return &renderArgs{kind: workspace.RenderEnv, Out: "-"} },
		},
		{
			name: "json", synopsis: "[-o FILE]",
			summary: `every locked image as {"source", "target", "digest"}, for scripts`,
			help: `Writes a JSON array with one {"source", "target", "digest"} object per locked
image and build: the lock's reference, its target reference (with the tag) and
the digest the target holds, to deploy as <target repository>@<digest>.`,
			args: func() arguments { return &renderArgs{kind: workspace.RenderJSON, Out: "-"} },
		},
		{
			name: "kubernetes", synopsis: "-f FILE|- [-o FILE] [--strict]",
			summary: "rewrite the images of Kubernetes YAML to the target registry by digest",
			help: `Reads Kubernetes YAML (manifests, "helm template ...", "kustomize build ..."), rewrites
every image field discovery reads (containers, init and ephemeral containers and
image volumes of every pod template, "image" fields of custom resources) to
<target repository>@<digest> when images.lock holds the image (by its upstream
or its target reference), and writes the YAML to standard output, everything
else as it was. Images images.lock does not hold are left alone and listed on
stderr; with --strict they make it exit 1 and write nothing.

  helm template web ./chart | imagesync render kubernetes -f - | kubectl apply -f -`,
			args: func() arguments { return &renderArgs{kind: workspace.RenderKubernetes, Out: "-"} },
		},
	}
}

// familyArgs are the arguments of a command family (render) itself, which
// only ever shows its help: its subcommand parses the command line.
type familyArgs struct{ globals }

func (a *familyArgs) define(*pflag.FlagSet)        {}
func (a *familyArgs) operands(args []string) error { return noOperands(args) }
func (a *familyArgs) run(context.Context, *env) (int, error) {
	return exitError, fmt.Errorf("a command family runs through one of its commands")
}

// renderArgs are the arguments of `imagesync render KIND`.
type renderArgs struct {
	globals
	kind    workspace.RenderKind
	Out     string // "-" for standard output
	In      string // kubernetes: the YAML to read, "-" for standard input
	Strict  bool   // kubernetes: an image not in the lock is an error
	Project string // compose: the compose_project, when there are several
}

func (a *renderArgs) define(fs *pflag.FlagSet) {
	fs.StringVarP(&a.Out, "output", "o", a.Out, "write to `FILE`, atomically (\"-\": standard output)")
	if a.kind == workspace.RenderKubernetes {
		fs.StringVarP(&a.In, "filename", "f", "", "the YAML to rewrite: a `FILE`, or - for standard input")
		fs.BoolVar(&a.Strict, "strict", false, "exit 1, writing nothing, when an image is not in images.lock")
	}
	if a.kind == workspace.RenderCompose {
		fs.StringVar(&a.Project, "project", "", "the compose_project `NAME` to write the override of, when images.hcl declares several")
	}
}

func (a *renderArgs) operands(args []string) error {
	if err := noOperands(args); err != nil {
		return err
	}
	if a.Out == "" {
		return fmt.Errorf("-o needs a file name, or - for standard output")
	}
	if a.kind == workspace.RenderKubernetes && a.In == "" {
		return fmt.Errorf("-f FILE is required (- reads standard input)")
	}
	return nil
}

// input is the YAML render kubernetes reads: standard input for "-".
func (a *renderArgs) input(e *env) (io.Reader, error) {
	switch a.In {
	case "":
		return nil, nil
	case "-":
		return e.stdin, nil
	}
	// Usually a file of the repository: read under its rule (no link out
	// of its directory, no special file, bounded); "-" reads a pipe.
	data, err := repofs.ReadFileIn(a.In, repofs.DefaultMaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("render kubernetes -f: %w", err)
	}
	return bytes.NewReader(data), nil
}

func (a *renderArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := openWorkspace(e, &a.globals, 0)
	if err != nil {
		return exitError, err
	}
	opts := workspace.RenderOptions{Kind: a.kind, Strict: a.Strict, Project: a.Project}
	if a.Out != "-" {
		opts.Out = a.Out
	}
	if opts.Input, err = a.input(e); err != nil {
		return exitError, err
	}
	res, err := w.Render(ctx, opts)
	if res != nil {
		if werr := view.WriteRenderNotes(e.stderr, res.LeftAlone); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return exitError, err
	}
	if res.Out == "" {
		_, err = e.stdout.Write(res.Data)
	} else {
		err = view.WriteRendered(e.stdout, string(a.kind), res.Out, res.Services)
	}
	if err != nil {
		return exitError, err
	}
	return exitOK, nil
}

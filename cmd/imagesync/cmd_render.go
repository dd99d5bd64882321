package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

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
			name: "compose", synopsis: "[-o FILE]",
			summary: "a compose override running every service from the target registry",
			help: `Writes a compose override file that sets, for every service of the compose
project (every profile), image: <target repository>@<digest>, and for the
services that build their image build: !reset null, so that compose pulls the
mirrored image instead of building it:

  docker compose -f docker-compose.yml -f compose.mirror.yaml up

Services whose image images.lock does not hold are left as they are and listed
on stderr. A built image must be in the target with the locked inputs.`,
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
	kind workspace.RenderKind
	Out  string // "-" for standard output
}

func (a *renderArgs) define(fs *pflag.FlagSet) {
	fs.StringVarP(&a.Out, "output", "o", a.Out, "write to `FILE`, atomically (\"-\": standard output)")
}

func (a *renderArgs) operands(args []string) error {
	if err := noOperands(args); err != nil {
		return err
	}
	if a.Out == "" {
		return fmt.Errorf("-o needs a file name, or - for standard output")
	}
	return nil
}

func (a *renderArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := openWorkspace(e, &a.globals, 0)
	if err != nil {
		return exitError, err
	}
	opts := workspace.RenderOptions{Kind: a.kind}
	if a.Out != "-" {
		opts.Out = a.Out
	}
	res, err := w.Render(ctx, opts)
	if err != nil {
		return exitError, err
	}
	if err := view.WriteRenderNotes(e.stderr, res.LeftAlone); err != nil {
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

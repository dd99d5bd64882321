package demo

import (
	"context"
	"fmt"
)

// step is one command of the demo and the exit code it must end with.
type step struct {
	dir  string // "" = the scratch copy of the example
	args []string
	want int
	note string
}

// Script runs the demo from start to end and fails on the first command
// that does not exit as expected.
func Script(ctx context.Context, opts Options) error {
	e, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	defer e.Close()
	if opts.Keep {
		defer func() {
			fmt.Fprintf(opts.Out, "The registries stay up on %s, %s and %s until Ctrl-C.\n", TargetAddr, DockerHubAddr, QuayAddr)
			<-ctx.Done()
		}()
	}
	steps := []step{
		{args: []string{"images", "--discovered"}, note: "What the example needs, found in its compose file and Dockerfiles:"},
		{args: []string{"lock"}, note: "Resolve every image through the mirrors and write images.lock:"},
		{args: []string{"lock", "--check"}, note: "CI's check: no network, exit 0 while the lock is current:"},
		{args: []string{"images"}, note: "The lock as a table:"},
		{dir: opts.RepoRoot, args: []string{"lock", "--check"}, note: "The repository's own committed images.lock is current too:"},
	}
	for _, s := range steps {
		fmt.Fprintf(opts.Out, "\n# %s", s.note)
		dir := e.WorkDir
		if s.dir != "" {
			dir = s.dir
		}
		code, err := e.RunIn(ctx, dir, s.args...)
		if err != nil {
			return err
		}
		if code != s.want {
			return fmt.Errorf("imagesync %v exited %d, want %d", s.args, code, s.want)
		}
	}
	fmt.Fprintln(opts.Out, "\nDemo complete.")
	return nil
}

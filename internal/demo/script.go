package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/imagesync/imagesync/internal/fakeupstream"
)

// step is one command of the demo and the exit code it must end with.
type step struct {
	dir    string // "" = the scratch copy of the example
	builds bool   // a step about builds, left out without a builder
	args   []string
	want   int
	note   string
	before func(ctx context.Context, e *Env) error // runs before the command
}

// movedImage is the upstream tag the demo moves to a new image.
const movedImage = "docker.io/library/redis:7-alpine"

// Script runs the demo from start to end and fails on the first command
// that does not exit as expected.
func Script(ctx context.Context, opts Options) error {
	e, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	defer e.Close()
	if opts.ServeOnly {
		fmt.Fprintf(opts.Out, "The registries are up on %s, %s and %s until Ctrl-C.\n", TargetAddr, DockerHubAddr, QuayAddr)
		<-ctx.Done()
		return nil
	}
	if opts.Keep {
		defer func() {
			fmt.Fprintf(opts.Out, "The registries stay up on %s, %s and %s until Ctrl-C.\n", TargetAddr, DockerHubAddr, QuayAddr)
			<-ctx.Done()
		}()
	}
	steps := []step{
		{args: []string{"images", "--discovered"}, note: "What the example needs, found in its compose file and Dockerfiles:"},
		{args: []string{"lock"}, note: "Resolve every image through the mirrors and write images.lock:"},
		{args: []string{"lock", "--check"}, note: "CI's pull-request check: no network, exit 0 while the lock is current:"},
		{args: []string{"plan", "--detailed-exitcode"}, want: 2, note: "What apply would push and build (exit 2: changes pending):"},
		{args: []string{"apply", "--auto-approve"}, note: "Mirror exactly the locked digests, then build the 5 services from them:"},
		{args: []string{"plan", "--detailed-exitcode"}, note: "Nothing left to do (exit 0):"},
		{args: []string{"lock", "--upgrade"}, before: moveTag,
			note: "Upstream moved " + movedImage + " to a new image; --upgrade re-resolves the tags:"},
		{args: []string{"plan", "--detailed-exitcode"}, want: 2, note: "Exactly one update:"},
		{args: []string{"apply", "--auto-approve"}, note: "Only the new image's own blobs travel; the shared base layer is already there:"},
		{args: []string{"lock"}, before: editService, builds: true,
			note: "A developer changes one file of the saltstack service; its build inputs change:"},
		{args: []string{"plan", "--detailed-exitcode"}, want: 2, builds: true, note: "Exactly one rebuild, and nothing else:"},
		{args: []string{"apply", "--auto-approve"}, builds: true,
			note: "buildah rebuilds saltstack from the locked python base in the target registry:"},
		{args: []string{"verify", "--deep"}, note: "The auditor's check: every manifest and blob is in the target:"},
		{dir: opts.RepoRoot, args: []string{"lock", "--check"}, note: "The repository's own committed images.lock is current too:"},
	}
	_, err = exec.LookPath("buildah")
	haveBuilder := err == nil
	if !haveBuilder {
		fmt.Fprintln(opts.Out, "\nbuildah is not installed (apt-get install buildah): the demo mirrors the images and skips the builds.")
	}
	for _, s := range steps {
		if !haveBuilder {
			if s.builds {
				continue
			}
			if len(s.args) > 0 && (s.args[0] == "plan" || s.args[0] == "apply") {
				s.args = append(s.args, "--skip-builds")
			}
		}
		fmt.Fprintf(opts.Out, "\n# %s", s.note)
		if s.before != nil {
			if err := s.before(ctx, e); err != nil {
				return err
			}
		}
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

// editService changes one file in the saltstack service's build context.
func editService(_ context.Context, e *Env) error {
	path := filepath.Join(e.WorkDir, "src", "saltstack", "states", "top.sls")
	fmt.Fprintf(e.opts.Out, "\n$ echo \"base: {'*': [core]}\" > src/saltstack/states/top.sls")
	return os.WriteFile(path, []byte("base: {'*': [core]}\n"), 0o644)
}

// moveTag pushes a new generation of movedImage to the stand-in upstream.
func moveTag(ctx context.Context, e *Env) error {
	for _, img := range fakeupstream.Seed() {
		if img.Ref == movedImage {
			img.Generation = 1
			_, err := fakeupstream.Push(ctx, img, e.Hosts())
			return err
		}
	}
	return fmt.Errorf("%s is not in the seed", movedImage)
}

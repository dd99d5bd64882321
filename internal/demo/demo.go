// Package demo runs the offline demonstration of imagesync on the
// ai-infra-matrix example: local registries stand in for docker.io, quay.io
// and the team's registry, filled with generated images whose digests are
// the same on every machine, and the real imagesync binary runs against
// them exactly as CI would.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// The fixed addresses the example's images.hcl names.
const (
	TargetAddr    = "127.0.0.1:5100"
	DockerHubAddr = "127.0.0.1:5101"
	QuayAddr      = "127.0.0.1:5102"
)

// Options configure a demo run.
type Options struct {
	RepoRoot string    // the imagesync repository (holds examples/ and cmd/)
	Binary   string    // a built imagesync; "" builds one with `go build`
	Out      io.Writer // where the transcript goes
	Keep     bool      // keep the registries running after the script, until ctx ends
	// ServeOnly starts and seeds the registries and runs no command, until
	// ctx ends: for regenerating the committed images.lock.
	ServeOnly bool
}

// Env is a running demo environment: the registries and a scratch copy of
// the example.
type Env struct {
	opts     Options
	Target   *testregistry.Server
	Upstream map[string]*testregistry.Server // by domain
	WorkDir  string                          // scratch copy of the example
	scratch  string
	binary   string
}

// Start starts the registries, seeds the stand-in upstream registries with
// the example's third-party images and copies the example to a scratch
// directory.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	scratch, err := os.MkdirTemp("", "imagesync-demo-")
	if err != nil {
		return nil, err
	}
	e := &Env{opts: opts, scratch: scratch, Upstream: map[string]*testregistry.Server{}}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	// buildah reads the builder's images.hcl setting; with the example's
	// "buildah" the demo needs it installed to build (see Script).
	e.binary = opts.Binary
	if e.binary == "" {
		e.binary = filepath.Join(scratch, "imagesync")
		e.say("$ go build -o %s ./cmd/imagesync", e.binary)
		build := exec.CommandContext(ctx, "go", "build", "-o", e.binary, "./cmd/imagesync")
		build.Dir = opts.RepoRoot
		build.Stdout, build.Stderr = opts.Out, opts.Out
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("build imagesync: %w", err)
		}
	}
	if e.Target, err = e.startRegistry(ctx, "target", TargetAddr); err != nil {
		return nil, err
	}
	for _, up := range []struct{ domain, addr string }{{"docker.io", DockerHubAddr}, {"quay.io", QuayAddr}} {
		if e.Upstream[up.domain], err = e.startRegistry(ctx, up.domain, up.addr); err != nil {
			return nil, err
		}
	}
	e.say("Seeding the stand-in upstream registries with %d generated images...", len(fakeupstream.Seed()))
	if err := fakeupstream.PushAll(ctx, fakeupstream.Seed(), e.Hosts()); err != nil {
		return nil, fmt.Errorf("seed upstream: %w", err)
	}
	// An empty docker config: the demo must not use the machine's
	// credentials, and builders insist that the file exists.
	if err := os.MkdirAll(filepath.Join(scratch, "docker-config"), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(scratch, "docker-config", "config.json"), []byte("{}\n"), 0o600); err != nil {
		return nil, err
	}
	e.WorkDir = filepath.Join(scratch, "ai-infra-matrix")
	if err := CopyTree(filepath.Join(opts.RepoRoot, "examples", "ai-infra-matrix"), e.WorkDir); err != nil {
		return nil, fmt.Errorf("copy example: %w", err)
	}
	return e, nil
}

func (e *Env) startRegistry(ctx context.Context, name, addr string) (*testregistry.Server, error) {
	s, err := testregistry.Start(ctx, testregistry.WithAddr(addr), testregistry.WithDeleteEnabled())
	if err != nil {
		return nil, fmt.Errorf("start the %s registry on %s (is another demo running?): %w", name, addr, err)
	}
	kind := "docker-registry"
	if s.InProcess() {
		kind = "the distribution registry in-process (docker-registry is not installed)"
	}
	e.say("Started %-8s registry on %s: %s", name, addr, kind)
	return s, nil
}

// Hosts maps the upstream domains to their stand-in registries.
func (e *Env) Hosts() map[string]string {
	hosts := map[string]string{}
	for domain, s := range e.Upstream {
		hosts[domain] = s.Host()
	}
	return hosts
}

// Close stops the registries and removes the scratch directory.
func (e *Env) Close() error {
	var errs []error
	for _, s := range append([]*testregistry.Server{e.Target}, e.Upstream["docker.io"], e.Upstream["quay.io"]) {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	errs = append(errs, os.RemoveAll(e.scratch))
	return errors.Join(errs...)
}

func (e *Env) say(format string, args ...any) {
	fmt.Fprintf(e.opts.Out, format+"\n", args...)
}

// Run runs imagesync in the scratch copy of the example, printing the
// command and its output, and returns its exit code.
func (e *Env) Run(ctx context.Context, args ...string) (int, error) {
	return e.RunIn(ctx, e.WorkDir, args...)
}

// RunIn is Run in another directory.
func (e *Env) RunIn(ctx context.Context, dir string, args ...string) (int, error) {
	fmt.Fprintf(e.opts.Out, "\n$ imagesync %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, e.binary, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = e.opts.Out, e.opts.Out
	// A clean environment: the demo must not depend on the user's
	// registry credentials.
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(e.scratch, "docker-config"))
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// CopyTree copies a directory of regular files, keeping the executable
// bit; the end-to-end tests copy the example with it too.
func CopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
}

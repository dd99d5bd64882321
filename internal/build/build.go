// Package build runs the repository's own image builds with a real
// builder (buildah, or docker buildx), hermetically: every base image a
// Dockerfile names (FROM, COPY --from, RUN --mount=from, "# syntax=") is
// taken from its pinned copy in the target registry, never from the
// upstream tag, and the result is pushed to the target registry.
//
// The repository is never modified: buildah builds from a rewritten copy of
// the Dockerfile (dockerfile.Rewrite) in a temporary directory, buildx from
// a copy of the Dockerfile as written plus one named build context per base
// image (dockerfile.NamedContexts).
//
// Errors do not name the service: the caller, which knows which build
// failed, says so once.
package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/dockerfile"
	"github.com/imagesync/imagesync/internal/imageref"
)

// Kind names a builder.
type Kind string

// The builders.
const (
	Buildx  Kind = "buildx"
	Buildah Kind = "buildah"
)

// Request is one build.
type Request struct {
	Service    string // compose service name, used to prefix output lines
	ContextDir string // absolute build context directory
	// Dockerfile is the Dockerfile content (from the repository file or
	// dockerfile_inline). The builder builds exactly these bytes, the ones
	// that were scanned, from a copy outside the repository.
	Dockerfile []byte
	// DockerfileName is its path relative to the repository, for messages
	// and locators (e.g. "src/web/Dockerfile").
	DockerfileName string
	Args           map[string]string // --build-arg
	Target         string            // --target stage, "" for the last
	Platforms      []string          // e.g. ["linux/amd64"]; empty = the builder's own platform
	Labels         map[string]string // --label, e.g. io.imagesync.inputs=sha256:...
	// Tag is the target reference to push, e.g. "127.0.0.1:5000/team/web:v1".
	Tag string
	// Pins maps every base reference the Dockerfile uses (canonical
	// imageref strings as dockerfile.Scan returns them, e.g.
	// "docker.io/library/golang:1.25-alpine") to the pinned reference to
	// build from instead, e.g.
	// "127.0.0.1:5000/team/golang:1.25-alpine@sha256:...". Every Found of
	// Scan must have a pin; a missing pin is an error (never a fall back to
	// the upstream tag).
	Pins map[string]string
	// Scan is dockerfile.Scan's result for this Dockerfile with the same
	// args, target and platform: which FROM, COPY --from, RUN --mount and
	// syntax refers to which image. For several platforms it is the
	// concatenation of the scans for each platform.
	Scan []dockerfile.Found
	// Insecure says the target registry speaks plain HTTP or has an
	// unverified certificate (buildah: --tls-verify=false).
	Insecure bool
	// Output receives the builder's output line by line, each line
	// prefixed "<service> | ". Nil discards it.
	Output io.Writer
}

// Builder runs builds.
type Builder interface {
	Kind() Kind
	// Check reports, before anything is pushed, whether the builder can
	// run, e.g. "buildah not found: install it or set builder.kind".
	Check(ctx context.Context) error
	// Build builds req and pushes it to req.Tag. It returns the pushed
	// digest: of the manifest or, for several platforms, of the index. A
	// failure of the builder is an error holding its last output lines.
	Build(ctx context.Context, req Request) (digest.Digest, error)
}

// runFunc runs one builder command in dir, with its stdout and stderr
// going to out. The default runs the executable (os/exec); tests replace it
// with withRunner.
type runFunc func(ctx context.Context, name string, args []string, dir string, out io.Writer) error

// Option configures New.
type Option func(*options)

type options struct {
	binary        string
	extraArgs     []string
	storageDriver *string
	isolation     *string
	runner        runFunc
}

// withBinary runs path instead of the builder's executable ("buildah" or
// "docker", looked up in PATH).
func withBinary(path string) Option { return func(o *options) { o.binary = path } }

// WithExtraArgs appends args (builder.args of the configuration) to every
// build command, just before the build context.
func WithExtraArgs(args []string) Option {
	return func(o *options) { o.extraArgs = slices.Clone(args) }
}

// withStorageDriver sets buildah's global --storage-driver; "" passes
// none, leaving buildah's own configuration in charge. The default is
// "vfs" when running as root and none otherwise: vfs works on any
// filesystem and inside containers, where overlay usually does not.
func withStorageDriver(driver string) Option {
	return func(o *options) { o.storageDriver = &driver }
}

// withIsolation sets buildah's build --isolation; "" passes none. The
// default is "chroot" when running as root and none otherwise: chroot
// isolation needs no OCI runtime and no user namespaces, so it works inside
// an unprivileged container.
func withIsolation(isolation string) Option {
	return func(o *options) { o.isolation = &isolation }
}

// withRunner replaces os/exec, for tests.
func withRunner(r runFunc) Option { return func(o *options) { o.runner = r } }

// New returns a builder of the given kind.
func New(kind Kind, opts ...Option) (Builder, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.runner == nil {
		o.runner = execRunner
	}
	switch kind {
	case Buildah:
		if o.binary == "" {
			o.binary = "buildah"
		}
		root := os.Geteuid() == 0
		if o.storageDriver == nil {
			d := ""
			if root {
				d = "vfs"
			}
			o.storageDriver = &d
		}
		if o.isolation == nil {
			i := ""
			if root {
				i = "chroot"
			}
			o.isolation = &i
		}
		return &buildah{opts: o}, nil
	case Buildx:
		if o.binary == "" {
			o.binary = "docker"
		}
		return &buildx{opts: o}, nil
	}
	return nil, fmt.Errorf("unknown builder kind %q (want %q or %q)", kind, Buildx, Buildah)
}

// waitDelay bounds how long a cancelled builder may take to stop, and how
// long a finished one may keep its output pipes open through a child
// process it left behind.
const waitDelay = 10 * time.Second

// execRunner is the default runFunc.
func execRunner(ctx context.Context, name string, args []string, dir string, out io.Writer) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Env = builderEnv(os.Environ())
	// On cancellation ask the builder to stop (buildah then removes its
	// working container), and kill it only if it does not.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = waitDelay
	return cmd.Run()
}

// builderEnv is the environment a builder runs with. docker reads
// $DOCKER_CONFIG/config.json when it exists and carries on without it, but
// buildah refuses to start when DOCKER_CONFIG names a directory without
// one; such a DOCKER_CONFIG says "no credentials", so it is left out.
func builderEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if dir, ok := strings.CutPrefix(kv, "DOCKER_CONFIG="); ok {
			if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
				continue
			}
		}
		out = append(out, kv)
	}
	return out
}

// notFoundError says the builder's executable is missing.
type notFoundError struct {
	Binary string
	Err    error // from exec.LookPath
}

func (e *notFoundError) Error() string {
	return fmt.Sprintf("%s not found: install it or set builder.kind", e.Binary)
}

func (e *notFoundError) Unwrap() error { return e.Err }

// lookPath checks that the builder's executable exists; name is how the
// error calls it ("buildah", "docker").
func lookPath(name, binary string) error {
	if _, err := exec.LookPath(binary); err != nil {
		return &notFoundError{Binary: name, Err: err}
	}
	return nil
}

// buildError is a failed builder command.
type buildError struct {
	Service string   // prefixes the output lines, as in Request.Output
	Command string   // what failed, e.g. "buildah build"
	Err     error    // the command's error, e.g. "exit status 1"
	Output  []string // its last output lines, unprefixed (at most tailLines)
	Hint    string   // a likely cause, if one is known
}

// tailLines is how many of the builder's last output lines a buildError keeps.
const tailLines = 20

func (e *buildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed: %v", e.Command, e.Err)
	if e.Hint != "" {
		fmt.Fprintf(&b, " (%s)", e.Hint)
	}
	if len(e.Output) > 0 {
		b.WriteString("; last output lines:")
		for _, l := range e.Output {
			fmt.Fprintf(&b, "\n  %s | %s", e.Service, l)
		}
	}
	return b.String()
}

func (e *buildError) Unwrap() error { return e.Err }

// checkRequest refuses a request that cannot be built.
func checkRequest(req Request) error {
	var errs []error
	if req.Service == "" {
		errs = append(errs, errors.New("no service name"))
	}
	if !filepath.IsAbs(req.ContextDir) {
		errs = append(errs, fmt.Errorf("the build context %q is not an absolute path", req.ContextDir))
	}
	if len(req.Dockerfile) == 0 {
		errs = append(errs, errors.New("the Dockerfile is empty"))
	}
	if req.Tag == "" {
		errs = append(errs, errors.New("no tag to push to"))
	}
	for _, p := range req.Platforms {
		if p == "" || strings.Contains(p, ",") {
			errs = append(errs, fmt.Errorf("invalid platform %q", p))
		}
	}
	return errors.Join(errs...)
}

// pushTarget checks req and returns the tag to push to.
func pushTarget(req Request) (imageref.Ref, error) {
	if err := checkRequest(req); err != nil {
		return imageref.Ref{}, err
	}
	tag, err := imageref.Parse(req.Tag)
	if err != nil || tag.IsPinned() {
		return imageref.Ref{}, fmt.Errorf("the target %q is not a tag to push to", req.Tag)
	}
	return tag, nil
}

// workspace is where a builder runs: a fresh temporary directory holding
// the Dockerfile to build, outside the repository, which is never
// modified. Remove it with os.RemoveAll(dir).
type workspace struct {
	dir        string
	dockerfile string // the path of the Dockerfile in dir
}

func newWorkspace(dockerfile []byte) (workspace, error) {
	dir, err := os.MkdirTemp("", "imagesync-build-*")
	if err != nil {
		return workspace{}, err
	}
	ws := workspace{dir: dir, dockerfile: filepath.Join(dir, "Dockerfile")}
	if err := os.WriteFile(ws.dockerfile, dockerfile, 0o600); err != nil {
		os.RemoveAll(dir)
		return workspace{}, err
	}
	return ws, nil
}

// buildFlags are the flags of a build command that both builders spell
// alike: the build arguments, the target stage, the labels and the
// platforms.
func buildFlags(req Request, args map[string]string) []string {
	flags := sortedPairs("--build-arg", args)
	if req.Target != "" {
		flags = append(flags, "--target", req.Target)
	}
	flags = append(flags, sortedPairs("--label", req.Labels)...)
	if len(req.Platforms) > 0 {
		flags = append(flags, "--platform", strings.Join(req.Platforms, ","))
	}
	return flags
}

// probe checks that the builder's executable exists (name: how errors
// call it) and runs it with args; fail explains a run that fails, given
// its error and what it printed.
func (o *options) probe(ctx context.Context, name string, args []string, fail func(err error, out string) error) error {
	if err := lookPath(name, o.binary); err != nil {
		return err
	}
	var out bytes.Buffer
	if err := o.runner(ctx, o.binary, args, "", &out); err != nil {
		return fail(err, strings.TrimSpace(out.String()))
	}
	return nil
}

// run runs one builder command, its output going to out; what names it
// in errors.
func (o *options) run(ctx context.Context, what string, args []string, dir string, out *lineWriter, service string) *buildError {
	err := o.runner(ctx, o.binary, args, dir, out)
	out.flush()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return &buildError{Service: service, Command: what, Err: err, Output: out.lines()}
}

// sortedPairs returns flag, "k=v" for every entry of m, sorted by key, so
// that command lines do not depend on map order.
func sortedPairs(flag string, m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, flag, k+"="+m[k])
	}
	return out
}

// syntaxPin returns the pinned frontend image of the scan's "# syntax"
// (or BUILDKIT_SYNTAX) reference, and whether there is one.
func syntaxPin(req Request) (string, bool, error) {
	for _, f := range req.Scan {
		if !f.IsSyntax() {
			continue
		}
		if err := dockerfile.CheckPins(req.DockerfileName, []dockerfile.Found{f}, req.Pins); err != nil {
			return "", false, err
		}
		return req.Pins[f.Ref.String()], true, nil
	}
	return "", false, nil
}

// buildArgs are req.Args with BUILDKIT_SYNTAX, if the scan found a syntax
// image, set to its pin; add says whether to add it when req.Args lacks it.
func buildArgs(req Request, add bool) (map[string]string, error) {
	args := maps.Clone(req.Args)
	pin, ok, err := syntaxPin(req)
	if err != nil || !ok {
		return args, err
	}
	if _, set := args[dockerfile.SyntaxArg]; set || add {
		if args == nil {
			args = make(map[string]string)
		}
		args[dockerfile.SyntaxArg] = pin
	}
	return args, nil
}

// readTrimmed reads a small file the builder wrote.
func readTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

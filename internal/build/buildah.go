package build

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/dockerfile"
	"github.com/imagesync/imagesync/internal/imageref"
)

// buildah builds with buildah. buildah has no BuildKit-style named
// contexts for image names, so it builds a rewritten copy of the
// Dockerfile (dockerfile.Rewrite) that names the pinned images directly:
//
//	buildah [--storage-driver D] build [--isolation I] [--tls-verify=false] -f TMP/Dockerfile
//	    [--build-arg K=V]... [--target T] [--label K=V]... [--platform P[,P...]]
//	    (-t LOCAL | --manifest LOCAL) [builder.args...] CONTEXT
//	buildah [--storage-driver D] push [--tls-verify=false] --digestfile TMP/digest LOCAL docker://TAG
//	buildah [--storage-driver D] manifest push --all --format oci [--tls-verify=false] --digestfile TMP/digest LOCAL docker://TAG
//
// (push for one platform, manifest push for several). LOCAL is a fresh
// local name, "localhost/imagesync-build:<random>", rather than TAG, so
// that a build never takes over an image or a stale manifest list the
// machine already has under TAG; it is removed afterwards (buildah rmi, and
// for a manifest list manifest rm plus rmi of its instances) so that
// repeated runs do not fill the storage. The base images pulled by digest
// stay, as a cache.
//
// buildah ignores "# syntax=" (it has its own Dockerfile reader), and older
// versions such as Debian's 1.28 do not support heredocs: a failed build of
// a Dockerfile with heredocs says so in its Error's Hint. Several platforms
// need an emulator (qemu-user-static) for RUN steps of foreign platforms.
type buildah struct{ opts options }

func (b *buildah) Kind() Kind { return Buildah }

func (b *buildah) Check(ctx context.Context) error {
	return b.opts.probe(ctx, "buildah", []string{"version"}, func(err error, out string) error {
		return fmt.Errorf("buildah cannot run (%s version): %w: %s", b.opts.binary, err, out)
	})
}

// global are the flags that precede buildah's subcommand.
func (b *buildah) global(args ...string) []string {
	var g []string
	if d := *b.opts.storageDriver; d != "" {
		g = append(g, "--storage-driver", d)
	}
	return append(g, args...)
}

func (b *buildah) Build(ctx context.Context, req Request) (digest.Digest, error) {
	tag, err := pushTarget(req)
	if err != nil {
		return "", err
	}
	rewritten, err := dockerfile.Rewrite(req.Dockerfile, req.Scan, req.DockerfileName, req.Pins)
	if err != nil {
		return "", err
	}
	args, err := buildArgs(req, false)
	if err != nil {
		return "", err
	}
	ws, err := newWorkspace(rewritten)
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(ws.dir)
	local, err := localName()
	if err != nil {
		return "", err
	}
	multi := len(req.Platforms) > 1
	out := newLineWriter(req.Output, req.Service)
	built := false
	defer func() { b.cleanup(ctx, local, multi, built, out) }()

	if err := b.opts.run(ctx, "buildah build", b.buildCommand(req, args, ws, local), ws.dir, out, req.Service); err != nil {
		if dockerfile.HasHeredocs(rewritten) {
			err.Hint = "the Dockerfile uses heredocs, which older buildah versions such as 1.28 do not support"
		}
		return "", err
	}
	built = true
	return b.push(ctx, req, tag, local, ws.dir, out)
}

// buildCommand is the command line that builds req into the local image
// (or, for several platforms, manifest list) local.
func (b *buildah) buildCommand(req Request, args map[string]string, ws workspace, local string) []string {
	cmd := b.global("build")
	if iso := *b.opts.isolation; iso != "" {
		cmd = append(cmd, "--isolation", iso)
	}
	if req.Insecure {
		cmd = append(cmd, "--tls-verify=false")
	}
	cmd = append(cmd, "-f", ws.dockerfile)
	cmd = append(cmd, buildFlags(req, args)...)
	if len(req.Platforms) > 1 {
		cmd = append(cmd, "--manifest", local)
	} else {
		cmd = append(cmd, "-t", local)
	}
	cmd = append(cmd, b.opts.extraArgs...)
	return append(cmd, req.ContextDir)
}

// push pushes the local image (or manifest list) local to tag and returns
// the pushed digest.
func (b *buildah) push(ctx context.Context, req Request, tag imageref.Ref, local, dir string, out *lineWriter) (digest.Digest, error) {
	digestFile := filepath.Join(dir, "digest")
	what, push := "buildah push", b.global("push")
	if len(req.Platforms) > 1 {
		what, push = "buildah manifest push", b.global("manifest", "push", "--all", "--format", "oci")
	}
	if req.Insecure {
		push = append(push, "--tls-verify=false")
	}
	push = append(push, "--digestfile", digestFile, local, "docker://"+tag.String())
	out.reset()
	if err := b.opts.run(ctx, what, push, dir, out, req.Service); err != nil {
		return "", err
	}
	s, err := readTrimmed(digestFile)
	if err != nil {
		return "", fmt.Errorf("reading the pushed digest: %w", err)
	}
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%s wrote an invalid digest %q: %w", what, s, err)
	}
	return d, nil
}

// cleanupTimeout bounds the removal of local images after a build, which
// runs even when the build's context was cancelled.
const cleanupTimeout = 2 * time.Minute

// cleanup removes what the build left in buildah's storage under local: the
// image (when built), or the manifest list and the images it lists, which
// a failed build may leave half filled. A removal that fails is reported on
// out, without failing the build.
func (b *buildah) cleanup(ctx context.Context, local string, multi, built bool, out *lineWriter) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	run := func(args ...string) (string, error) {
		var buf bytes.Buffer
		err := b.opts.runner(ctx, b.opts.binary, b.global(args...), "", &buf)
		if err != nil {
			return buf.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(buf.String()))
		}
		return buf.String(), nil
	}
	warn := func(err error) {
		fmt.Fprintf(out, "imagesync: removing the local build %s: %v\n", local, err)
		out.flush()
	}
	if !multi {
		if !built {
			return // a failed build tags nothing
		}
		if _, err := run("rmi", local); err != nil {
			warn(err)
		}
		return
	}
	js, err := run("manifest", "inspect", local)
	if err != nil {
		return // no manifest list: nothing was built
	}
	var list struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(js), &list); err != nil {
		warn(fmt.Errorf("reading the manifest list: %w", err))
		return
	}
	instances := make(map[string]bool)
	for _, m := range list.Manifests {
		instances[m.Digest] = true
	}
	images, err := run("images", "--all", "--no-trunc", "--noheading", "--format", "{{.ID}} {{.Digest}}")
	if err != nil {
		warn(err)
		return
	}
	var ids []string
	for _, line := range strings.Split(images, "\n") {
		if f := strings.Fields(line); len(f) == 2 && instances[f[1]] {
			ids = append(ids, f[0])
		}
	}
	var errs []error
	if _, err := run("manifest", "rm", local); err != nil {
		errs = append(errs, err)
	}
	if len(ids) > 0 {
		if _, err := run(append([]string{"rmi"}, ids...)...); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		warn(err)
	}
}

// localName is a fresh name for the image or manifest list of one build.
func localName() (string, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return "localhost/imagesync-build:" + hex.EncodeToString(r[:]), nil
}

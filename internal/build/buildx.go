package build

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/dockerfile"
)

// buildx builds with docker buildx (BuildKit). The Dockerfile stays as
// written: each base image is replaced by its pin with a named build
// context, which BuildKit consults for every FROM, COPY --from and RUN
// --mount=from image, and the syntax frontend with the BUILDKIT_SYNTAX
// build argument:
//
//	docker buildx build --progress plain --provenance=false --file TMP/Dockerfile
//	    [--build-context NAME=docker-image://PIN]... [--build-arg K=V]... [--target T]
//	    [--label K=V]... [--platform P[,P...]] --tag TAG --push --metadata-file TMP/metadata.json
//	    [builder.args...] CONTEXT
//
// The Dockerfile is a copy of the scanned bytes in a temporary directory,
// so that the build uses exactly what was scanned and locked (a
// dockerfile_inline one included). --provenance=false keeps a
// single-platform result a plain manifest, whose digest the lock records;
// builder.args may turn it back on. With Insecure, --tag/--push become
// --output type=image,name=TAG,push=true,registry.insecure=true; pulling
// the pins from such a registry also needs it configured in the builder
// (buildkitd.toml, or the Docker daemon's insecure-registries).
//
// No Docker engine runs where the tests run: this builder is tested with
// golden files of its exact command lines.
type buildx struct{ opts options }

func (b *buildx) Kind() Kind { return Buildx }

func (b *buildx) Check(ctx context.Context) error {
	return b.opts.probe(ctx, "docker", []string{"buildx", "version"}, func(err error, out string) error {
		return fmt.Errorf("docker buildx is not available: install the buildx plugin or set builder.kind (%s buildx version: %w: %s)",
			b.opts.binary, err, out)
	})
}

func (b *buildx) Build(ctx context.Context, req Request) (digest.Digest, error) {
	tag, err := pushTarget(req)
	if err != nil {
		return "", err
	}
	contexts, err := dockerfile.NamedContexts(req.Dockerfile, req.Scan, req.DockerfileName, req.Pins)
	if err != nil {
		return "", err
	}
	args, err := buildArgs(req, true)
	if err != nil {
		return "", err
	}
	ws, err := newWorkspace(req.Dockerfile)
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(ws.dir)
	metadata := filepath.Join(ws.dir, "metadata.json")

	cmd := []string{"buildx", "build", "--progress", "plain", "--provenance=false", "--file", ws.dockerfile}
	for _, name := range slices.Sorted(maps.Keys(contexts)) {
		cmd = append(cmd, "--build-context", name+"=docker-image://"+contexts[name])
	}
	cmd = append(cmd, buildFlags(req, args)...)
	if req.Insecure {
		cmd = append(cmd, "--output", "type=image,name="+tag.String()+",push=true,registry.insecure=true")
	} else {
		cmd = append(cmd, "--tag", tag.String(), "--push")
	}
	cmd = append(cmd, "--metadata-file", metadata)
	cmd = append(cmd, b.opts.extraArgs...)
	cmd = append(cmd, req.ContextDir)

	out := newLineWriter(req.Output, req.Service)
	if err := b.opts.run(ctx, "docker buildx build", cmd, ws.dir, out, req.Service); err != nil {
		return "", err
	}
	return metadataDigest(metadata)
}

// metadataDigest reads the digest buildx pushed from its metadata file.
func metadataDigest(metadata string) (digest.Digest, error) {
	raw, err := os.ReadFile(metadata)
	if err != nil {
		return "", fmt.Errorf("reading the build's metadata file: %w", err)
	}
	var md struct {
		Digest string `json:"containerd.image.digest"`
	}
	if err := json.Unmarshal(raw, &md); err != nil {
		return "", fmt.Errorf("reading the build's metadata file: %w", err)
	}
	d, err := digest.Parse(md.Digest)
	if err != nil {
		return "", fmt.Errorf("the build's metadata file has no valid containerd.image.digest (%q): %w", md.Digest, err)
	}
	return d, nil
}

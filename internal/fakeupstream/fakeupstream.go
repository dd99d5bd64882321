// Package fakeupstream generates deterministic stand-ins for the
// third-party images that imagesync mirrors from docker.io and quay.io, and
// pushes them to local registries that play those upstreams in the demo and
// the end-to-end tests, where there is no Internet.
//
// Generation is deterministic: one catalogue entry gives byte-identical
// manifests, configs and layers, and so the same digests, on every run and
// machine. Timestamps are a fixed epoch, layer content comes from ChaCha8
// seeded by the entry, tar headers are fixed, and gzip streams are written
// by hand. Nothing is read from the machine (no host binary goes into a
// layer), so lockfiles pinned in tests stay valid everywhere.
//
// The images have no shell: a Dockerfile built on them can COPY, but a RUN
// step fails, as on any image without /bin/sh. Tests of RUN steps build on
// bases of their own (internal/build's buildah tests).
package fakeupstream

import (
	"fmt"
	"path"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagesync/imagesync/internal/imageref"
)

// DefaultLayerSize is the size of an image's own layer payload when
// Image.LayerSize is zero: small, so that tests pushing the whole catalogue
// stay fast.
const DefaultLayerSize = 64 << 10

// Format is the family of media types an image is published with.
type Format int

const (
	// OCI publishes an OCI image index of OCI manifests, as most official
	// images on Docker Hub now are.
	OCI Format = iota
	// Docker publishes a Docker manifest list of schema 2 manifests, as
	// older or third-party images still are.
	Docker
)

// String names the format for test output.
func (f Format) String() string {
	switch f {
	case OCI:
		return "OCI"
	case Docker:
		return "Docker"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Image is one upstream image to generate.
type Image struct {
	// Ref is the canonical upstream reference with a tag, e.g.
	// "docker.io/library/nginx:1.27-alpine".
	Ref string
	// Platforms are "os/arch[/variant]", e.g. {"linux/amd64", "linux/arm64"}.
	Platforms []string
	// Single pushes a plain manifest for the one platform instead of an
	// index.
	Single bool
	// Format chooses OCI or Docker media types.
	Format Format
	// Base names a base layer family ("alpine", "debian", "ubi"): images
	// with the same Base and platform share their first layer byte for
	// byte, like real images built FROM the same base. "" means no base
	// layer.
	Base string
	// Generation is bumped to make a different image for the same tag,
	// like an upstream tag that moved; the base layer stays the same.
	Generation int
	// LayerSize is the payload size in bytes of the image's own layer on
	// each platform (the layer adds a few hundred bytes of tar and gzip
	// framing); DefaultLayerSize when zero.
	LayerSize int64
}

// Built is a generated image: an index with one image per platform, or a
// single image when Image.Single is set. Exactly one field is set. It is a
// partial.Describable and remote.Taggable either way.
type Built struct {
	Index v1.ImageIndex // nil for a single image
	Image v1.Image      // nil for an index
}

// Digest is the digest of the index or the single manifest.
func (b *Built) Digest() (v1.Hash, error) {
	if b.Index != nil {
		return b.Index.Digest()
	}
	return b.Image.Digest()
}

// MediaType is the media type of the index or the single manifest.
func (b *Built) MediaType() (types.MediaType, error) {
	if b.Index != nil {
		return b.Index.MediaType()
	}
	return b.Image.MediaType()
}

// Size is the size of the index or the single manifest.
func (b *Built) Size() (int64, error) {
	if b.Index != nil {
		return b.Index.Size()
	}
	return b.Image.Size()
}

// RawManifest is the bytes of the index or the single manifest.
func (b *Built) RawManifest() ([]byte, error) {
	if b.Index != nil {
		return b.Index.RawManifest()
	}
	return b.Image.RawManifest()
}

// Build generates img. The same img always gives the same bytes.
func Build(img Image) (*Built, error) {
	if _, err := imageref.Parse(img.Ref); err != nil {
		return nil, fmt.Errorf("generating %s: %w", img.Ref, err)
	}
	if len(img.Platforms) == 0 || (img.Single && len(img.Platforms) != 1) {
		return nil, fmt.Errorf("generating %s: %d platforms given; want at least one, and exactly one when Single",
			img.Ref, len(img.Platforms))
	}
	mts := mediaTypesOf(img.Format)
	idx := mutate.IndexMediaType(empty.Index, mts.index)
	for _, ps := range img.Platforms {
		p, err := v1.ParsePlatform(ps)
		if err == nil && (p.OS == "" || p.Architecture == "") {
			err = fmt.Errorf("want os/arch[/variant]")
		}
		if err != nil {
			return nil, fmt.Errorf("generating %s: platform %q: %w", img.Ref, ps, err)
		}
		single, err := buildImage(img, p, mts)
		if err != nil {
			return nil, fmt.Errorf("generating %s for %s: %w", img.Ref, ps, err)
		}
		if img.Single {
			return &Built{Image: single}, nil
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        plainImage{single},
			Descriptor: v1.Descriptor{Platform: p},
		})
	}
	return &Built{Index: idx}, nil
}

// plainImage keeps go-containerregistry from writing an artifactType (the
// config media type) into the image's index descriptor: real upstream
// indexes have none, Docker manifest lists have no such field at all, and
// tools tell artifacts such as signatures from images by it.
type plainImage struct{ v1.Image }

// ArtifactType is empty: this is an image, not an artifact.
func (plainImage) ArtifactType() (string, error) { return "", nil }

// mediaTypes are the media types of one Format.
type mediaTypes struct {
	index, manifest, config, layer types.MediaType
}

func mediaTypesOf(f Format) mediaTypes {
	if f == Docker {
		return mediaTypes{types.DockerManifestList, types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer}
	}
	return mediaTypes{types.OCIImageIndex, types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer}
}

// epoch is the creation time of every generated image and file: a constant,
// because anything read from the clock would change the digests.
func epoch() time.Time { return time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC) }

// buildImage generates the image of img for one platform: the base layer
// (if any), then the image's own layer.
func buildImage(img Image, p *v1.Platform, mts mediaTypes) (v1.Image, error) {
	var adds []mutate.Addendum
	if img.Base != "" {
		base, err := baseLayer(img.Base, p, mts.layer)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: base, History: v1.History{
			Created:   v1.Time{Time: epoch()},
			CreatedBy: "ADD " + img.Base + "-rootfs.tar.gz / # fakeupstream base layer",
		}})
	}
	own, err := ownLayer(img, p, mts.layer)
	if err != nil {
		return nil, err
	}
	adds = append(adds, mutate.Addendum{Layer: own, History: v1.History{
		Created:   v1.Time{Time: epoch()},
		CreatedBy: fmt.Sprintf("COPY payload /opt/%s/ # fakeupstream generation %d", leafName(img.Ref), img.Generation),
	}})

	cfg := &v1.ConfigFile{
		Created:      v1.Time{Time: epoch()},
		OS:           p.OS,
		Architecture: p.Architecture,
		Variant:      p.Variant,
		OSVersion:    p.OSVersion,
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Env:    []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd:    []string{"/opt/" + leafName(img.Ref) + "/IMAGE"},
			Labels: map[string]string{"io.imagesync.fakeupstream.ref": img.Ref},
		},
	}
	base := mutate.MediaType(empty.Image, mts.manifest)
	base = mutate.ConfigMediaType(base, mts.config)
	base, err = mutate.ConfigFile(base, cfg)
	if err != nil {
		return nil, fmt.Errorf("setting config: %w", err)
	}
	out, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	return out, nil
}

// baseLayer is the layer that every image of the family shares on the
// platform; it depends on nothing else, the media type aside, which is not
// part of the bytes.
func baseLayer(family string, p *v1.Platform, mt types.MediaType) (*layer, error) {
	plat := platformKey(p)
	osRelease := fmt.Sprintf("ID=%s\nNAME=\"fakeupstream %s\"\nPLATFORM=%s\n", family, family, plat)
	files := []file{
		{name: "etc/"},
		{name: "etc/os-release", data: []byte(osRelease)},
		{name: "lib/"},
		{name: "lib/" + family + "-base.bin", data: randomBytes(baseSize(family), "base", family, plat)},
	}
	return newLayer(files, mt)
}

// ownLayer is the image's own content: a description and a payload seeded
// by reference, platform and generation.
func ownLayer(img Image, p *v1.Platform, mt types.MediaType) (*layer, error) {
	size := img.LayerSize
	if size <= 0 {
		size = DefaultLayerSize
	}
	plat, gen := platformKey(p), fmt.Sprint(img.Generation)
	dir := "opt/" + leafName(img.Ref) + "/"
	info := fmt.Sprintf("ref=%s\nplatform=%s\ngeneration=%s\n", img.Ref, plat, gen)
	return newLayer([]file{
		{name: "opt/"},
		{name: dir},
		{name: dir + "IMAGE", data: []byte(info)},
		{name: dir + "payload.bin", data: randomBytes(size, "own", img.Ref, plat, gen)},
	}, mt)
}

// platformKey is the platform as the layer seeds see it. arm64 with the
// default variant v8 is the same platform as plain arm64, so that
// alpine:latest's "linux/arm64/v8" shares its base with other images'
// "linux/arm64", as on Docker Hub.
func platformKey(p *v1.Platform) string {
	variant := p.Variant
	if p.Architecture == "arm64" && variant == "v8" {
		variant = ""
	}
	key := p.OS + "/" + p.Architecture
	if variant != "" {
		key += "/" + variant
	}
	return key
}

// baseSize is the payload size of a base family's layer, roughly in
// proportion to the real bases while staying small.
func baseSize(family string) int64 {
	switch family {
	case "alpine":
		return 48 << 10
	case "debian", "ubi":
		return 96 << 10
	}
	return 64 << 10
}

// leafName is the last path element of the repository ("nginx" for
// docker.io/library/nginx:1.27-alpine).
func leafName(ref string) string {
	r, err := imageref.Parse(ref)
	if err != nil {
		return "image" // Build has validated the reference already
	}
	return path.Base(r.Path())
}

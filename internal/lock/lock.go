// Package lock holds images.lock: the desired state of the target registry,
// one digest per image the repository needs and one inputs fingerprint per
// image it builds. Shaped as Terraform's depsfile: the model (this file,
// and changes.go: what changed from one lock to another), its HCL codec
// (file.go, file_scope.go: load from bytes or from a file, sorted
// normalized output, atomic write) and the file lock that serializes
// commands on one images.lock (flock.go). Computing a new lock against
// registries is internal/lock/resolve's job: nothing here asks a
// registry.
package lock

import (
	"slices"
	"sort"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/referrers"
)

// InputsLabel is the image label a build's inputs fingerprint is recorded
// in, so that a plan can tell whether the image in the target registry was
// built from the same inputs.
const InputsLabel = "io.imagesync.inputs"

// DefaultFilename is the lockfile name, relative to the config's directory.
const DefaultFilename = "images.lock"

// FormatVersion is the version of images.lock's format, which `imagesync
// version --json` and the release notes name. The file itself carries no
// version (its schema is checked block by block, and an older lock reads
// as it was written); this changes only when a block or attribute changes
// meaning or disappears, never when one is added.
const FormatVersion = "1"

// Lock is the content of images.lock.
type Lock struct {
	Images []Image // sorted by Ref
	Builds []Build // sorted by Ref
}

// Image is an image mirrored from upstream, pinned to a digest.
type Image struct {
	Ref       imageref.Ref
	Digest    digest.Digest
	MediaType string   // of the manifest or index Digest names
	Platforms []string // sorted; "os/arch[/variant]"
	// Manifests is how many distinct manifests apply reads from upstream
	// to copy the image (the index, the children of the mirrored
	// platforms, the attestation manifests and nested indexes among them,
	// each once), what plan's pull budget counts; 0 when it is the index
	// and one per mirrored platform, or the one manifest (DefaultReads),
	// so that the lock says it only where it differs.
	Manifests int
	Target    imageref.Ref
	Sources   []string // sorted locators

	// PlatformMode and MirroredPlatforms are set only when images.hcl
	// chooses platforms for the image: how they are mirrored and which
	// (sorted; Platforms keeps meaning what upstream has).
	PlatformMode      config.PlatformMode
	MirroredPlatforms []string
	// FilteredDigest is target_digest in the lock: the digest of the index
	// that lists only the mirrored platforms, which apply writes instead
	// of Digest in filter mode; "" otherwise. Read it through
	// TargetDigest.
	FilteredDigest digest.Digest
	// Referrers are the signatures, attestations, SBOMs and other
	// artifacts attached upstream to Digest or to the children mirrored
	// with it, sorted (referrers.Sort).
	Referrers []referrers.Artifact
}

// TargetDigest is the digest the target reference is meant to resolve to:
// the filtered index's in filter mode, else the locked Digest.
func (i Image) TargetDigest() digest.Digest {
	if i.FilteredDigest != "" {
		return i.FilteredDigest
	}
	return i.Digest
}

// DefaultReads is how many manifests apply reads for an image whose lock
// does not say (Manifests 0): the index and one per mirrored platform (or
// per platform when all are), or the one manifest.
func (i Image) DefaultReads() int {
	if !types.MediaType(i.MediaType).IsIndex() {
		return 1
	}
	if len(i.MirroredPlatforms) > 0 {
		return 1 + len(i.MirroredPlatforms)
	}
	return 1 + len(i.Platforms)
}

// Reads is how many manifests apply reads from upstream to copy the image
// (plan's pull budget, referrers aside).
func (i Image) Reads() int {
	if i.Manifests > 0 {
		return i.Manifests
	}
	return i.DefaultReads()
}

// Build is an image the repository builds itself.
type Build struct {
	Ref imageref.Ref
	// Services are the compose services that build the image, sorted:
	// several when they share one build definition.
	Services    []string
	Context     string
	Dockerfile  string
	TargetStage string
	Bases       []imageref.Ref // sorted
	Target      imageref.Ref
	// Inputs fingerprints everything that decides what the build produces.
	Inputs digest.Digest
}

// Image returns the locked image for ref, or nil.
func (l *Lock) Image(ref imageref.Ref) *Image {
	i := sort.Search(len(l.Images), func(i int) bool { return l.Images[i].Ref.String() >= ref.String() })
	if i < len(l.Images) && l.Images[i].Ref == ref {
		return &l.Images[i]
	}
	return nil
}

// Build returns the locked build for ref, or nil.
func (l *Lock) Build(ref imageref.Ref) *Build {
	i := sort.Search(len(l.Builds), func(i int) bool { return l.Builds[i].Ref.String() >= ref.String() })
	if i < len(l.Builds) && l.Builds[i].Ref == ref {
		return &l.Builds[i]
	}
	return nil
}

// Normalize sorts every list so that equal locks format to equal bytes
// whatever order they were built in.
func (l *Lock) Normalize() {
	sort.Slice(l.Images, func(i, j int) bool { return imageref.Less(l.Images[i].Ref, l.Images[j].Ref) })
	sort.Slice(l.Builds, func(i, j int) bool { return imageref.Less(l.Builds[i].Ref, l.Builds[j].Ref) })
	for i := range l.Images {
		l.Images[i].Platforms = slices.Compact(slices.Sorted(slices.Values(l.Images[i].Platforms)))
		l.Images[i].Sources = slices.Compact(slices.Sorted(slices.Values(l.Images[i].Sources)))
		l.Images[i].MirroredPlatforms = slices.Compact(slices.Sorted(slices.Values(l.Images[i].MirroredPlatforms)))
		l.Images[i].Referrers = slices.Clone(l.Images[i].Referrers)
		referrers.Sort(l.Images[i].Referrers)
	}
	for i := range l.Builds {
		b := &l.Builds[i]
		b.Services = slices.Compact(slices.Sorted(slices.Values(b.Services)))
		slices.SortFunc(b.Bases, imageref.Compare)
		b.Bases = slices.Compact(b.Bases)
	}
}

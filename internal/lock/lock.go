// Package lock holds images.lock: the desired state of the target registry,
// one digest per image the repository needs and one inputs fingerprint per
// image it builds. The model (this file) is kept apart from its HCL codec
// (file.go) and from the code that computes a new lock (update.go).
package lock

import (
	"slices"
	"sort"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

// InputsLabel is the image label a build's inputs fingerprint is recorded
// in, so that a plan can tell whether the image in the target registry was
// built from the same inputs.
const InputsLabel = "io.imagesync.inputs"

// DefaultFilename is the lockfile name, relative to the config's directory.
const DefaultFilename = "images.lock"

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
	Target    imageref.Ref
	Sources   []string // sorted locators
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

// TargetDigest is the digest the target registry holds for the image, the
// one to deploy by. It is Digest today; a lock that filters platforms may
// record another (the filtered index) and this is the one place that
// knows. Read it through here, never Digest, wherever the target's copy
// is meant.
func (img *Image) TargetDigest() digest.Digest { return img.Digest }

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
	}
	for i := range l.Builds {
		b := &l.Builds[i]
		b.Services = slices.Compact(slices.Sorted(slices.Values(b.Services)))
		slices.SortFunc(b.Bases, imageref.Compare)
		b.Bases = slices.Compact(b.Bases)
	}
}

package registry

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
)

// Manifest is one manifest of an image's tree as the registry stores it:
// an index with its children, or an image manifest with its blobs.
type Manifest struct {
	Digest    digest.Digest
	MediaType string
	Data      []byte // the exact bytes, to be copied as they are
	// Descriptor is how the parent index lists this manifest (platform,
	// annotations); zero for the root.
	Descriptor v1.Descriptor
	// Entries are every manifest an index lists, as listed; Children are
	// those of them that were read (all, unless WithChildFilter), in
	// index order, each distinct manifest once.
	Entries  []v1.Descriptor
	Children []*Manifest
	// Blobs are an image manifest's config and layers, in that order.
	Blobs []v1.Descriptor
	// Err is why this child could not be read, with WithPartial; the
	// manifest then has no Data.
	Err error
}

// IsIndex reports whether m is an OCI index or a Docker manifest list.
func (m *Manifest) IsIndex() bool { return types.MediaType(m.MediaType).IsIndex() }

// Walk calls visit for m and every manifest below it, parents first, each
// distinct manifest (by digest) once: an index that names one manifest a
// thousand times is the few manifests it holds, for every reader.
func (m *Manifest) Walk(visit func(*Manifest)) {
	seen := map[digest.Digest]bool{}
	var walk func(*Manifest)
	walk = func(n *Manifest) {
		if seen[n.Digest] {
			return
		}
		seen[n.Digest] = true
		visit(n)
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(m)
}

// DistributableSize is the bytes of every blob below m that a copy
// transfers (foreign layers stay references).
func (m *Manifest) DistributableSize() int64 {
	var total int64
	m.Walk(func(n *Manifest) {
		for _, b := range n.Blobs {
			if b.MediaType.IsDistributable() {
				total += b.Size
			}
		}
	})
	return total
}

// TreeOption configures ReadTree.
type TreeOption func(*treeOptions)

type treeOptions struct {
	root        []byte
	rootType    string
	keep        func(v1.Descriptor) bool
	partial     bool
	concurrency int
}

// WithRootManifest hands ReadTree the root's bytes and media type, already
// read and checked against the digest (the copy engine reads them while
// choosing a source), so that they are not fetched twice.
func WithRootManifest(data []byte, mediaType string) TreeOption {
	return func(o *treeOptions) { o.root, o.rootType = data, mediaType }
}

// WithChildFilter reads only the children of an index that keep accepts;
// the default reads every child. keep is called once per entry, in index
// order, before any child is read, so it may keep state.
func WithChildFilter(keep func(v1.Descriptor) bool) TreeOption {
	return func(o *treeOptions) { o.keep = keep }
}

// WithPartial records a child that cannot be read in its Manifest.Err
// instead of failing the whole tree, for audits that report every problem.
// The root must still be readable.
func WithPartial() TreeOption { return func(o *treeOptions) { o.partial = true } }

package registry

import (
	"bytes"
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// MaxIndexEntries bounds the children of an index imagesync reads, so that
// a hostile index cannot make a run fetch without end. Every reader of a
// manifest tree (copy, verify, learning what a target holds, labels,
// platforms) applies it through ReadTree.
const MaxIndexEntries = 1000

// maxIndexDepth bounds the nesting of indexes: an index of indexes is
// legal OCI, a deeper chain is not something any publisher makes.
const maxIndexDepth = 2

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
	// index order.
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

// Walk calls visit for m and every manifest below it, parents first.
func (m *Manifest) Walk(visit func(*Manifest)) {
	visit(m)
	for _, c := range m.Children {
		c.Walk(visit)
	}
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

// ReadTree reads manifest d and, for an index, its children (fetched
// concurrently, at most 8 at a time per index), checking every manifest's
// bytes against its digest. Blobs are listed, not fetched.
func (r *Repo) ReadTree(ctx context.Context, d digest.Digest, opts ...TreeOption) (*Manifest, error) {
	o := treeOptions{keep: func(v1.Descriptor) bool { return true }, concurrency: 8}
	for _, opt := range opts {
		opt(&o)
	}
	return r.readNode(ctx, v1.Descriptor{}, d, 0, &o)
}

func (r *Repo) readNode(ctx context.Context, desc v1.Descriptor, d digest.Digest, depth int, o *treeOptions) (*Manifest, error) {
	m := &Manifest{Digest: d, Descriptor: desc}
	if depth == 0 && o.root != nil {
		m.Data, m.MediaType = o.root, o.rootType
	} else {
		var err error
		if m.Data, m.MediaType, err = r.GetManifest(ctx, d); err != nil {
			return nil, err
		}
	}
	if !m.IsIndex() {
		im, err := v1.ParseManifest(bytes.NewReader(m.Data))
		if err != nil {
			return nil, fmt.Errorf("parse manifest %s: %w", d, err)
		}
		m.Blobs = append([]v1.Descriptor{im.Config}, im.Layers...)
		return m, nil
	}
	if depth >= maxIndexDepth {
		return nil, fmt.Errorf("index %s is nested more than %d deep", d, maxIndexDepth)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(m.Data))
	if err != nil {
		return nil, fmt.Errorf("parse index %s: %w", d, err)
	}
	if len(im.Manifests) > MaxIndexEntries {
		return nil, fmt.Errorf("index %s has %d entries, more than the %d allowed", d, len(im.Manifests), MaxIndexEntries)
	}
	m.Entries = im.Manifests
	var kept []v1.Descriptor
	for _, c := range im.Manifests {
		if o.keep(c) {
			kept = append(kept, c)
		}
	}
	m.Children = make([]*Manifest, len(kept))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.concurrency)
	for i, c := range kept {
		g.Go(func() error {
			child, err := r.readNode(gctx, c, digest.Digest(c.Digest.String()), depth+1, o)
			if err != nil && o.partial && gctx.Err() == nil {
				child, err = &Manifest{Digest: digest.Digest(c.Digest.String()), Descriptor: c, Err: err}, nil
			}
			m.Children[i] = child
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return m, nil
}

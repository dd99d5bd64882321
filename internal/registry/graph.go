package registry

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// WithIndexesOnly reads, below the root, only the children an index lists
// as indexes: the shape of the graph (every index, so its nesting and its
// entries, checked against the limits) without the image manifests, which
// are known by their descriptors. Lock reads an image so: what apply
// would refuse is refused, and nothing is pulled that locking does not
// need. It is a child filter: it replaces WithChildFilter.
func WithIndexesOnly() TreeOption {
	return WithChildFilter(func(d v1.Descriptor) bool { return d.MediaType.IsIndex() })
}

// ReadTree reads manifest d and, for an index, its children (fetched
// concurrently, at most 8 at a time per index), checking every manifest's
// bytes against its digest. Blobs are listed, not fetched.
//
// The graph is walked by digest: each distinct manifest is fetched once,
// however many indexes name it, and a child is read once per depth it is
// found at (so that the nesting limit holds on every path). The limits
// of limits.go apply: the nesting, the entries of one index, the distinct
// manifests of the graph and their bytes; a child must be of the kind
// (index or image manifest) its index lists it as.
func (r *Repo) ReadTree(ctx context.Context, d digest.Digest, opts ...TreeOption) (*Manifest, error) {
	o := treeOptions{keep: func(v1.Descriptor) bool { return true }, concurrency: 8}
	for _, opt := range opts {
		opt(&o)
	}
	g := &graph{r: r, o: &o, root: d, fetches: map[digest.Digest]*fetched{}, nodes: map[nodeKey]*pending{},
		refs: map[digest.Digest]bool{d: true}}
	return g.node(ctx, v1.Descriptor{}, d, 0)
}

// graph is one ReadTree: the manifests fetched so far, by digest, the
// nodes built from them, by digest and depth, and what counts against the
// limits.
type graph struct {
	r    *Repo
	o    *treeOptions
	root digest.Digest

	mu      sync.Mutex
	fetches map[digest.Digest]*fetched
	nodes   map[nodeKey]*pending
	refs    map[digest.Digest]bool // every manifest an index read names
	bytes   int64                  // of the manifests fetched
}

type nodeKey struct {
	d     digest.Digest
	depth int
}

// pending is a node being built (done open) or built.
type pending struct {
	done chan struct{}
	m    *Manifest
	err  error
}

// fetched is a manifest being fetched (done open) or fetched.
type fetched struct {
	done      chan struct{}
	data      []byte
	mediaType string
	err       error
}

// node returns the node of manifest d at depth, building it once.
func (g *graph) node(ctx context.Context, desc v1.Descriptor, d digest.Digest, depth int) (*Manifest, error) {
	key := nodeKey{d, depth}
	g.mu.Lock()
	p, ok := g.nodes[key]
	if !ok {
		p = &pending{done: make(chan struct{})}
		g.nodes[key] = p
	}
	g.mu.Unlock()
	if !ok {
		p.m, p.err = g.build(ctx, desc, d, depth)
		close(p.done)
		return p.m, p.err
	}
	select {
	case <-p.done:
		return p.m, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fetch returns the bytes of manifest d, fetching them once.
func (g *graph) fetch(ctx context.Context, d digest.Digest) ([]byte, string, error) {
	g.mu.Lock()
	f, ok := g.fetches[d]
	if !ok {
		f = &fetched{done: make(chan struct{})}
		g.fetches[d] = f
	}
	g.mu.Unlock()
	if !ok {
		f.data, f.mediaType, f.err = g.r.GetManifest(ctx, d)
		if f.err == nil {
			f.err = g.hold(d, len(f.data))
		}
		close(f.done)
	}
	select {
	case <-f.done:
		return f.data, f.mediaType, f.err
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
}

// hold counts n more manifest bytes in memory.
func (g *graph) hold(d digest.Digest, n int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.bytes += int64(n)
	if g.bytes > MaxImageManifestBytes {
		return g.limitf("the manifests of %s reach %d bytes with %s, more than the %d allowed", g.root, g.bytes, d, MaxImageManifestBytes)
	}
	return nil
}

// reference counts the manifests an index names.
func (g *graph) reference(entries []v1.Descriptor) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range entries {
		g.refs[digest.Digest(e.Digest.String())] = true
	}
	if len(g.refs) > MaxManifestsPerImage {
		return g.limitf("the graph of %s names more than %d distinct manifests", g.root, MaxManifestsPerImage)
	}
	return nil
}

// limitf is an error of the graph beyond a limit, naming the repository
// and registry that served it.
func (g *graph) limitf(format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", g.r.ep.Repo, fmt.Sprintf(format, args...), ErrLimit)
}

// build reads manifest d, listed as desc by its parent, at depth.
func (g *graph) build(ctx context.Context, desc v1.Descriptor, d digest.Digest, depth int) (*Manifest, error) {
	m := &Manifest{Digest: d, Descriptor: desc}
	if depth == 0 && g.o.root != nil {
		m.Data, m.MediaType = g.o.root, g.o.rootType
		if err := g.hold(d, len(m.Data)); err != nil {
			return nil, err
		}
	} else {
		var err error
		if m.Data, m.MediaType, err = g.fetch(ctx, d); err != nil {
			return nil, err
		}
	}
	if m.MediaType == "" {
		m.MediaType = string(desc.MediaType)
	}
	if desc.MediaType != "" && desc.MediaType.IsIndex() != m.IsIndex() {
		return nil, fmt.Errorf("%s: %s is listed as %s by its index but served as %s: %w", g.r.ep.Repo, d, desc.MediaType, m.MediaType, ErrLimit)
	}
	if !m.IsIndex() {
		im, err := v1.ParseManifest(bytes.NewReader(m.Data))
		if err != nil {
			return nil, fmt.Errorf("parse manifest %s: %w", d, err)
		}
		m.Blobs = append([]v1.Descriptor{im.Config}, im.Layers...)
		return m, nil
	}
	if depth >= MaxIndexDepth {
		return nil, g.limitf("index %s is nested more than %d deep", d, MaxIndexDepth)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(m.Data))
	if err != nil {
		return nil, fmt.Errorf("parse index %s: %w", d, err)
	}
	if len(im.Manifests) > MaxIndexEntries {
		return nil, g.limitf("index %s has %d entries, more than the %d allowed", d, len(im.Manifests), MaxIndexEntries)
	}
	if err := g.reference(im.Manifests); err != nil {
		return nil, err
	}
	m.Entries = im.Manifests
	m.Children, err = g.children(ctx, m.Entries, depth)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// children reads the distinct entries the child filter keeps, in index
// order.
func (g *graph) children(ctx context.Context, entries []v1.Descriptor, depth int) ([]*Manifest, error) {
	var kept []v1.Descriptor
	seen := map[v1.Hash]bool{}
	for _, c := range entries {
		if g.o.keep(c) && !seen[c.Digest] {
			seen[c.Digest] = true
			kept = append(kept, c)
		}
	}
	children := make([]*Manifest, len(kept))
	eg, gctx := errgroup.WithContext(ctx)
	eg.SetLimit(g.o.concurrency)
	for i, c := range kept {
		eg.Go(func() error {
			d := digest.Digest(c.Digest.String())
			child, err := g.node(gctx, c, d, depth+1)
			if err != nil && g.o.partial && gctx.Err() == nil {
				child, err = &Manifest{Digest: d, Descriptor: c, Err: err}, nil
			}
			children[i] = child
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	return children, nil
}

// Reads is how many manifests ReadTree(m.Digest, WithChildFilter(keep))
// fetches (m included, each distinct manifest once, as apply reads them),
// counted on a tree read with WithIndexesOnly: the entries of every index
// are known without reading the image manifests they name. It is what
// plan's pull budget counts for an image.
func (m *Manifest) Reads(keep func(v1.Descriptor) bool) int {
	seen := map[digest.Digest]bool{}
	var visit func(*Manifest)
	visit = func(n *Manifest) {
		if seen[n.Digest] {
			return
		}
		seen[n.Digest] = true
		read := map[digest.Digest]*Manifest{}
		for _, c := range n.Children {
			read[c.Digest] = c
		}
		for _, e := range n.Entries {
			if !keep(e) {
				continue
			}
			d := digest.Digest(e.Digest.String())
			if c, ok := read[d]; ok {
				visit(c)
			} else {
				seen[d] = true
			}
		}
	}
	visit(m)
	return len(seen)
}

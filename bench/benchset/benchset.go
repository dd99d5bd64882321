// Package benchset holds the image sets of the benchmark (docs/benchmarks.md)
// and pushes them to a stand-in upstream registry, remembering every blob
// and manifest it pushed so that the benchmark can count what the tools
// send without asking the registry.
//
// The sets are fakeupstream images with bench-specific layer sizes:
// deterministic, so every run and machine copies the same bytes.
package benchset

import (
	"context"
	"fmt"
	"sort"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/imageref"
)

const mib = 1 << 20

// coldSizes is the payload of each seed image's own layer, per platform,
// in MiB: roughly in proportion to the real images (golang and postgres
// big, alpine and tcp-proxy small), about 430 MiB in all. The alpine,
// debian and ubi base layers are shared between images as upstream.
var coldSizes = map[string]int64{
	"docker.io/library/nginx:1.27-alpine":        12,
	"docker.io/library/postgres:15-alpine":       22,
	"docker.io/library/redis:7-alpine":           10,
	"docker.io/osixia/openldap:stable":           30,
	"docker.io/osixia/phpldapadmin:stable":       25,
	"quay.io/minio/minio:latest":                 24,
	"docker.io/redislabs/redisinsight:latest":    25,
	"docker.io/tecnativa/tcp-proxy:latest":       2,
	"docker.io/library/nginx:stable-alpine-perl": 16,
	"docker.io/library/alpine:latest":            3,
	"docker.io/library/golang:1.25-alpine":       24,
	"docker.io/library/golang:1.24-alpine":       22,
	"docker.io/library/node:22-alpine":           12,
	"docker.io/library/node:18-alpine":           10,
	"docker.io/library/python:3.13-alpine":       4,
}

// Cold is the seed's 15 third-party images scaled to about 430 MiB.
func Cold() []fakeupstream.Image {
	imgs := fakeupstream.Seed()
	for i := range imgs {
		size, ok := coldSizes[imgs[i].Ref]
		if !ok {
			panic("benchset: no size for " + imgs[i].Ref)
		}
		imgs[i].LayerSize = size * mib
	}
	return imgs
}

// ChangedRef is the upstream tag the "one changed" scenario moves: an
// alpine image, so that the new image shares its base layer.
const ChangedRef = "docker.io/library/redis:7-alpine"

// Changed is ChangedRef's next generation: a new own layer and config on
// each platform, the same alpine base.
func Changed() fakeupstream.Image {
	for _, img := range Cold() {
		if img.Ref == ChangedRef {
			img.Generation = 1
			return img
		}
	}
	panic("benchset: " + ChangedRef + " is not in the seed")
}

// BigRef is the image of the big-layer scenario.
const BigRef = "docker.io/bench/big:1g"

// Big is one single-platform image whose own layer is 1 GiB.
func Big() []fakeupstream.Image {
	return []fakeupstream.Image{{Ref: BigRef, Platforms: []string{"linux/amd64"}, Single: true,
		Format: fakeupstream.OCI, Base: "alpine", LayerSize: 1 << 30}}
}

// Scale is n small two-platform images on the alpine base, two tags per
// repository ("docker.io/scale/app-0000:v1", "...:v2"), 4 KiB each.
func Scale(n int) []fakeupstream.Image {
	imgs := make([]fakeupstream.Image, 0, n)
	for i := range n {
		imgs = append(imgs, fakeupstream.Image{
			Ref:       fmt.Sprintf("docker.io/scale/app-%04d:v%d", i/2, i%2+1),
			Platforms: []string{"linux/amd64", "linux/arm64"},
			Format:    fakeupstream.OCI,
			Base:      "alpine",
			LayerSize: 4 << 10,
		})
	}
	return imgs
}

// Blob is one blob of an image: a config or a layer.
type Blob struct {
	Digest string
	Size   int64
}

// Pushed is what was pushed for one image.
type Pushed struct {
	Ref       string   // the upstream reference, e.g. docker.io/library/nginx:1.27-alpine
	Path      string   // repository path on the stand-in, e.g. library/nginx
	Tag       string   //
	Digest    string   // of the index or the single manifest
	Manifests []Blob   // the index (if any) and every image manifest
	Blobs     []Blob   // configs and layers, in manifest order, duplicates kept
	Platforms []string //
}

// Inventory remembers the sizes of every blob and manifest pushed.
type Inventory struct {
	mu     sync.Mutex
	Images map[string]*Pushed // by Ref
	sizes  map[string]int64   // digest -> size
}

// NewInventory returns an empty inventory.
func NewInventory() *Inventory {
	return &Inventory{Images: map[string]*Pushed{}, sizes: map[string]int64{}}
}

// Size is the size of a pushed blob or manifest, and whether it is known.
func (inv *Inventory) Size(digest string) (int64, bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	n, ok := inv.sizes[digest]
	return n, ok
}

// Image is the record of one pushed image.
func (inv *Inventory) Image(ref string) *Pushed {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.Images[ref]
}

func (inv *Inventory) add(p *Pushed) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.Images[p.Ref] = p
	for _, b := range append(append([]Blob(nil), p.Manifests...), p.Blobs...) {
		inv.sizes[b.Digest] = b.Size
	}
}

// UniqueBlob is a blob and the first image repository it belongs to.
type UniqueBlob struct {
	Blob
	Path string
}

// UniqueBlobs lists the distinct configs and layers of the given images,
// each with the repository of the first image that has it: what a copier
// that knew everything in advance would have to move.
func (inv *Inventory) UniqueBlobs(refs []string) []UniqueBlob {
	seen := map[string]bool{}
	var out []UniqueBlob
	for _, ref := range refs {
		p := inv.Image(ref)
		if p == nil {
			continue
		}
		for _, b := range p.Blobs {
			if !seen[b.Digest] {
				seen[b.Digest] = true
				out = append(out, UniqueBlob{Blob: b, Path: p.Path})
			}
		}
	}
	return out
}

// UniqueBytes is the total size of UniqueBlobs(refs).
func (inv *Inventory) UniqueBytes(refs []string) int64 {
	var n int64
	for _, b := range inv.UniqueBlobs(refs) {
		n += b.Size
	}
	return n
}

// Push generates imgs and pushes them to the stand-in registry of their
// domain (fakeupstream.Target), four repositories at a time and the tags
// of one repository one after the other, recording each in inv.
func Push(ctx context.Context, inv *Inventory, imgs []fakeupstream.Image, hosts map[string]string, parallel int) error {
	groups := map[string][]fakeupstream.Image{}
	var order []string
	for _, img := range imgs {
		r, err := imageref.Parse(img.Ref)
		if err != nil {
			return err
		}
		if _, ok := groups[r.Repository()]; !ok {
			order = append(order, r.Repository())
		}
		groups[r.Repository()] = append(groups[r.Repository()], img)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	for _, repo := range order {
		g.Go(func() error {
			for _, img := range groups[repo] {
				if err := pushOne(gctx, inv, img, hosts); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func pushOne(ctx context.Context, inv *Inventory, img fakeupstream.Image, hosts map[string]string) error {
	tag, err := fakeupstream.Target(img, hosts)
	if err != nil {
		return err
	}
	built, err := fakeupstream.Build(img)
	if err != nil {
		return err
	}
	p, err := record(img, built)
	if err != nil {
		return err
	}
	if built.Index != nil {
		err = remote.WriteIndex(tag, built.Index, remote.WithContext(ctx))
	} else {
		err = remote.Write(tag, built.Image, remote.WithContext(ctx))
	}
	if err != nil {
		return fmt.Errorf("pushing %s to %s: %w", img.Ref, tag, err)
	}
	inv.add(p)
	return nil
}

// record lists the manifests and blobs of a built image.
func record(img fakeupstream.Image, built *fakeupstream.Built) (*Pushed, error) {
	r, err := imageref.Parse(img.Ref)
	if err != nil {
		return nil, err
	}
	p := &Pushed{Ref: img.Ref, Path: r.Path(), Tag: r.Tag(), Platforms: append([]string(nil), img.Platforms...)}
	d, err := built.Digest()
	if err != nil {
		return nil, err
	}
	size, err := built.Size()
	if err != nil {
		return nil, err
	}
	p.Digest = d.String()
	p.Manifests = append(p.Manifests, Blob{Digest: d.String(), Size: size})
	if built.Image != nil {
		if err := addImage(p, built.Image, false); err != nil {
			return nil, err
		}
		return p, nil
	}
	im, err := built.Index.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, desc := range im.Manifests {
		child, err := built.Index.Image(desc.Digest)
		if err != nil {
			return nil, err
		}
		if err := addImage(p, child, true); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// addImage records an image manifest (a child of an index when child)
// and its config and layers.
func addImage(p *Pushed, img v1.Image, child bool) error {
	if child {
		d, err := img.Digest()
		if err != nil {
			return err
		}
		size, err := img.Size()
		if err != nil {
			return err
		}
		p.Manifests = append(p.Manifests, Blob{Digest: d.String(), Size: size})
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	for _, desc := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		p.Blobs = append(p.Blobs, Blob{Digest: desc.Digest.String(), Size: desc.Size})
	}
	return nil
}

// SortedRefs is the references of imgs, sorted.
func SortedRefs(imgs []fakeupstream.Image) []string {
	out := make([]string, len(imgs))
	for i, img := range imgs {
		out[i] = img.Ref
	}
	sort.Strings(out)
	return out
}

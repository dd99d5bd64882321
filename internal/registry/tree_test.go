package registry

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

// treeRepo opens repository a/b of reg for pulling.
func treeRepo(t *testing.T, reg *countingRegistry) *Repo {
	t.Helper()
	c := testClient(t, "", "")
	ep, err := c.TargetRepository(imageref.MustParse(reg.host() + "/a/b:1"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Repo(context.Background(), ep, PullOnly)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func randomImage(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(32, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func indexOf(children ...mutate.IndexAddendum) v1.ImageIndex {
	return mutate.IndexMediaType(mutate.AppendManifests(empty.Index, children...), types.OCIImageIndex)
}

func platformChild(img v1.Image, os, arch string) mutate.IndexAddendum {
	return mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: os, Architecture: arch}}}
}

func hexOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) digest.Digest {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(h.String())
}

// TestReadTree checks the one manifest walker every reader uses: shape,
// exact bytes, the entry limit, nesting, filters and partial reads.
func TestReadTree(t *testing.T) {
	reg := newRegistry(t)
	repo := treeRepo(t, reg)
	tag := func(s string) name.Tag {
		tg, err := name.NewTag(reg.host()+"/a/b:"+s, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	single := randomImage(t, 2)
	if err := remote.Write(tag("single"), single); err != nil {
		t.Fatal(err)
	}
	amd, arm, att := randomImage(t, 1), randomImage(t, 1), randomImage(t, 1)
	multi := indexOf(platformChild(amd, "linux", "amd64"), platformChild(arm, "linux", "arm64"), platformChild(att, "unknown", "unknown"))
	if err := remote.WriteIndex(tag("multi"), multi); err != nil {
		t.Fatal(err)
	}
	nested := indexOf(mutate.IndexAddendum{Add: multi})
	if err := remote.WriteIndex(tag("nested"), nested); err != nil {
		t.Fatal(err)
	}
	tooDeep := indexOf(mutate.IndexAddendum{Add: nested})
	if err := remote.WriteIndex(tag("deep"), tooDeep); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	tests := []struct {
		name     string
		root     digest.Digest
		opts     []TreeOption
		manifest int    // manifests visited by Walk
		blobs    int    // blobs listed over the tree
		children int    // children of the root
		entries  int    // entries of the root index
		wantErr  string // substring of the error
	}{
		{name: "single image", root: hexOf(t, single), manifest: 1, blobs: 3},
		{name: "index with attestation", root: hexOf(t, multi), manifest: 4, blobs: 6, children: 3, entries: 3},
		{name: "filtered to amd64", root: hexOf(t, multi), manifest: 2, blobs: 2, children: 1, entries: 3,
			opts: []TreeOption{WithChildFilter(func(d v1.Descriptor) bool { return d.Platform.Architecture == "amd64" })}},
		{name: "index of an index", root: hexOf(t, nested), manifest: 5, blobs: 6, children: 1, entries: 1},
		{name: "nested too deep", root: hexOf(t, tooDeep), wantErr: "nested more than 2 deep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := repo.ReadTree(ctx, tc.root, tc.opts...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			manifests, blobs := 0, 0
			tree.Walk(func(m *Manifest) {
				manifests++
				blobs += len(m.Blobs)
				if got := digest.FromBytes(m.Data); got != m.Digest {
					t.Errorf("manifest %s holds bytes of %s", m.Digest, got)
				}
			})
			if manifests != tc.manifest || blobs != tc.blobs || len(tree.Children) != tc.children || len(tree.Entries) != tc.entries {
				t.Errorf("manifests %d blobs %d children %d entries %d, want %d %d %d %d",
					manifests, blobs, len(tree.Children), len(tree.Entries), tc.manifest, tc.blobs, tc.children, tc.entries)
			}
		})
	}

	t.Run("root handed in is not fetched again", func(t *testing.T) {
		raw, _ := single.RawManifest()
		before := reg.gets.Load()
		tree, err := repo.ReadTree(ctx, hexOf(t, single), WithRootManifest(raw, string(types.DockerManifestSchema2)))
		if err != nil || len(tree.Blobs) != 3 {
			t.Fatalf("tree %+v, err %v", tree, err)
		}
		if n := reg.gets.Load() - before; n != 0 {
			t.Errorf("%d GETs for a tree whose root was handed in", n)
		}
	})

	t.Run("partial records a missing child", func(t *testing.T) {
		// An index whose second child was never pushed.
		ghost := randomImage(t, 1)
		sparse := indexOf(platformChild(amd, "linux", "amd64"), platformChild(ghost, "linux", "s390x"))
		raw, _ := sparse.RawManifest()
		d := digest.FromBytes(raw)
		if _, err := repo.ReadTree(ctx, d, WithRootManifest(raw, string(types.OCIImageIndex))); err == nil {
			t.Fatal("a missing child did not fail the tree")
		}
		tree, err := repo.ReadTree(ctx, d, WithRootManifest(raw, string(types.OCIImageIndex)), WithPartial())
		if err != nil {
			t.Fatal(err)
		}
		if tree.Children[0].Err != nil || tree.Children[1].Err == nil || tree.Children[1].Digest != hexOf(t, ghost) {
			t.Errorf("children errors: %v, %v", tree.Children[0].Err, tree.Children[1].Err)
		}
	})
}

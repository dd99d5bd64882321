package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
)

// manifestServer serves raw manifests by digest from repository a/b and
// counts the GETs of each.
type manifestServer struct {
	mu        sync.Mutex
	manifests map[digest.Digest][]byte
	types     map[digest.Digest]string
	gets      map[digest.Digest]int
}

func newManifestServer() *manifestServer {
	return &manifestServer{manifests: map[digest.Digest][]byte{}, types: map[digest.Digest]string{}, gets: map[digest.Digest]int{}}
}

// add stores a manifest and returns the descriptor an index lists it by.
func (s *manifestServer) add(mediaType types.MediaType, data []byte) v1.Descriptor {
	d := digest.FromBytes(data)
	s.mu.Lock()
	s.manifests[d], s.types[d] = data, string(mediaType)
	s.mu.Unlock()
	h, _ := v1.NewHash(d.String())
	return v1.Descriptor{MediaType: mediaType, Size: int64(len(data)), Digest: h}
}

// leaf adds an image manifest (its blobs are never fetched) made unique
// by note.
func (s *manifestServer) leaf(note string) v1.Descriptor {
	data := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"` +
		digest.FromString(note).String() + `"},"layers":[],"annotations":{"n":"` + note + `"}}`
	return s.add(types.OCIManifestSchema1, []byte(data))
}

// index adds an index listing entries.
func (s *manifestServer) index(entries ...v1.Descriptor) v1.Descriptor {
	data, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: entries})
	if err != nil {
		panic(err)
	}
	return s.add(types.OCIImageIndex, data)
}

func (s *manifestServer) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.gets {
		n += c
	}
	return n
}

func (s *manifestServer) serve(_ int64, w http.ResponseWriter, r *http.Request) {
	ref, ok := strings.CutPrefix(r.URL.Path, "/v2/a/b/manifests/")
	d := digest.Digest(ref)
	s.mu.Lock()
	data, found := s.manifests[d]
	if r.Method == http.MethodGet {
		s.gets[d]++
	}
	mt := s.types[d]
	s.mu.Unlock()
	if !ok || !found {
		http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", mt)
	w.Header().Set("Docker-Content-Digest", d.String())
	_, _ = w.Write(data)
}

func repeat(d v1.Descriptor, n int) []v1.Descriptor {
	out := make([]v1.Descriptor, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func digestOf(d v1.Descriptor) digest.Digest { return digest.Digest(d.Digest.String()) }

// TestReadTreeWalksByDigest: a graph of 3 distinct manifests that names
// them 1000 x 100 times (an index of 1000 entries naming one index of 100
// entries naming one image) costs 3 GETs, not 101,001, and is 3 manifests
// for every reader; read for its shape (indexes only) it costs 2, and
// counts the 3 apply reads.
func TestReadTreeWalksByDigest(t *testing.T) {
	s := newManifestServer()
	c := s.leaf("c")
	b := s.index(repeat(c, 100)...)
	a := s.index(repeat(b, 1000)...)
	srv, _ := fakeRegistry(t, false, s.serve)
	repo := repoOn(t, testClient(t, "", ""), srv)

	tree, err := repo.ReadTree(context.Background(), digestOf(a))
	if err != nil {
		t.Fatal(err)
	}
	if n := s.total(); n != 3 {
		t.Errorf("%d manifest GETs for a graph of 3 manifests, want 3", n)
	}
	visited := 0
	tree.Walk(func(*Manifest) { visited++ })
	if visited != 3 || len(tree.Children) != 1 || len(tree.Children[0].Children) != 1 {
		t.Errorf("Walk visited %d, children %d, want 3 and 1", visited, len(tree.Children))
	}

	before := s.total()
	shape, err := repo.ReadTree(context.Background(), digestOf(a), WithIndexesOnly())
	if err != nil {
		t.Fatal(err)
	}
	if n := s.total() - before; n != 2 {
		t.Errorf("%d GETs for the shape, want 2 (the two indexes)", n)
	}
	if n := shape.Reads(func(v1.Descriptor) bool { return true }); n != 3 {
		t.Errorf("Reads = %d, want 3", n)
	}
}

// TestReadTreeLimits: every structural limit is an error wrapping
// ErrLimit that names the registry, found after a bounded number of GETs.
func TestReadTreeLimits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		graph    func(s *manifestServer) v1.Descriptor
		want     string
		maxGets  int
		indexOly bool // read for the shape only, as lock reads
	}{
		{name: "nested 1000 deep", maxGets: 3, want: "is nested more than 2 deep", graph: func(s *manifestServer) v1.Descriptor {
			d := s.leaf("bottom")
			for range 1000 {
				d = s.index(d)
			}
			return d
		}},
		{name: "nested 1000 deep, shape only", maxGets: 3, indexOly: true, want: "is nested more than 2 deep", graph: func(s *manifestServer) v1.Descriptor {
			d := s.leaf("bottom")
			for range 1000 {
				d = s.index(d)
			}
			return d
		}},
		{name: "too many distinct manifests", maxGets: 1 + 1024/2 + 8, want: "names more than 1024 distinct manifests", graph: func(s *manifestServer) v1.Descriptor {
			var children []v1.Descriptor
			for i := range 1000 {
				children = append(children, s.index(s.leaf(fmt.Sprint(i))))
			}
			return s.index(children...)
		}},
		{name: "child served as another kind", maxGets: 2, want: "is listed as application/vnd.oci.image.manifest.v1+json by its index but served as application/vnd.oci.image.index.v1+json", graph: func(s *manifestServer) v1.Descriptor {
			inner := s.index(s.leaf("x"))
			inner.MediaType = types.OCIManifestSchema1
			return s.index(inner)
		}},
		{name: "too many manifest bytes", maxGets: 1 + 16 + 8, want: "more than the 67108864 allowed", graph: func(s *manifestServer) v1.Descriptor {
			var children []v1.Descriptor
			for i := range 20 {
				children = append(children, s.leaf(fmt.Sprint(i)+strings.Repeat("x", MaxManifestSize-300)))
			}
			return s.index(children...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newManifestServer()
			root := tc.graph(s)
			srv, _ := fakeRegistry(t, false, s.serve)
			repo := repoOn(t, testClient(t, "", ""), srv)
			var opts []TreeOption
			if tc.indexOly {
				opts = append(opts, WithIndexesOnly())
			}
			_, err := repo.ReadTree(context.Background(), digestOf(root), opts...)
			if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), hostOf(srv)+"/a/b") {
				t.Fatalf("err = %v, want ErrLimit, %q and the registry", err, tc.want)
			}
			if n := s.total(); n > tc.maxGets {
				t.Errorf("%d GETs before the refusal, want at most %d", n, tc.maxGets)
			}
		})
	}
}

// TestReadsCountsWhatApplyReads: Reads on the shape equals the GETs of a
// full read with the same child filter, for a filter and without.
func TestReadsCountsWhatApplyReads(t *testing.T) {
	s := newManifestServer()
	amd, arm := s.leaf("amd"), s.leaf("arm")
	amd.Platform, arm.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}, &v1.Platform{OS: "linux", Architecture: "arm64"}
	att := s.leaf("att")
	att.Platform = &v1.Platform{OS: "unknown", Architecture: "unknown"}
	nested := s.index(s.leaf("n1"), s.leaf("n2"), amd)
	root := s.index(amd, arm, att, amd, nested)
	srv, _ := fakeRegistry(t, false, s.serve)
	repo := repoOn(t, testClient(t, "", ""), srv)
	shape, err := repo.ReadTree(context.Background(), digestOf(root), WithIndexesOnly())
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []func(v1.Descriptor) bool{
		func(v1.Descriptor) bool { return true },
		func(d v1.Descriptor) bool { return d.Platform == nil || d.Platform.Architecture == "amd64" },
	} {
		before := s.total()
		if _, err := repo.ReadTree(context.Background(), digestOf(root), WithChildFilter(keep)); err != nil {
			t.Fatal(err)
		}
		if got, want := shape.Reads(keep), s.total()-before; got != want {
			t.Errorf("Reads = %d, a read with the same filter sent %d GETs", got, want)
		}
	}
}

package apply

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	isregistry "github.com/imagesync/imagesync/internal/registry"
)

// recorder is an in-process registry that records the requests it gets.
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // "METHOD path?query"
	corrupt  map[string]bool
	// served, when set, is called after each request is answered.
	served func(req *http.Request)
}

// onServed sets the function called after each request is answered.
func (r *recorder) onServed(f func(req *http.Request)) {
	r.mu.Lock()
	r.served = f
	r.mu.Unlock()
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{corrupt: map[string]bool{}}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, req.Method+" "+req.URL.RequestURI())
		if served := r.served; served != nil {
			defer served(req)
		}
		corrupt := false
		for d := range r.corrupt {
			if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/blobs/"+d) {
				corrupt = true
			}
		}
		r.mu.Unlock()
		if corrupt {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.Bytes()
			if len(body) > 0 {
				body[0] ^= 0xff
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) host() string { return strings.TrimPrefix(r.URL, "http://") }

// count returns how many recorded requests start with prefix and contain sub.
func (r *recorder) count(prefix, sub string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, req := range r.requests {
		if strings.HasPrefix(req, prefix) && strings.Contains(req, sub) {
			n++
		}
	}
	return n
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.requests = nil
	r.mu.Unlock()
}

// twoPlatformIndex builds an index whose children share base as first layer.
func twoPlatformIndex(t *testing.T, base v1.Layer) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: base})
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
}

func push(t *testing.T, ref string, idx v1.ImageIndex) string {
	t.Helper()
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	return d.String()
}

func engine(t *testing.T, src, dst *recorder, opts ...Option) *Engine {
	t.Helper()
	hcl := `target { registry = "` + dst.host() + `/mirror" }
registry "docker.io" { mirrors = ["` + src.URL + `"] }`
	cfg, diags := config.Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(hcl))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return New(isregistry.New(cfg, isregistry.WithKeychain(authn.NewMultiKeychain())), opts...)
}

func change(src, target, d string) diff.Change {
	return diff.Change{Kind: diff.KindImage, Action: diff.Create, Source: imageref.MustParse(src), Target: imageref.MustParse(target), Digest: digest.Digest(d)}
}

func TestCopyIndexExactBytes(t *testing.T) {
	src, dst := newRecorder(t), newRecorder(t)
	base, _ := random.Layer(2048, types.OCILayer)
	idx := twoPlatformIndex(t, base)
	d := push(t, src.host()+"/library/nginx:1.27", idx)
	// The tag moves upstream after locking: the locked digest is copied.
	push(t, src.host()+"/library/nginx:1.27", twoPlatformIndex(t, base))

	target := dst.host() + "/mirror/nginx:1.27"
	results := engine(t, src, dst).Apply(context.Background(), []diff.Change{change("docker.io/library/nginx:1.27", target, d)})
	if len(results) != 1 || results[0].Err != nil {
		t.Fatalf("results = %+v", results)
	}
	want, _ := idx.RawManifest()
	ref, _ := name.ParseReference(target, name.Insecure)
	got, err := remote.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Manifest, want) || got.Digest.String() != d {
		t.Errorf("target serves %s, want the locked %s byte for byte", got.Digest, d)
	}
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		child, err := remote.Get(ref.Context().Digest(m.Digest.String()))
		if err != nil {
			t.Fatalf("child %s missing: %v", m.Digest, err)
		}
		img, _ := idx.Image(m.Digest)
		raw, _ := img.RawManifest()
		if !bytes.Equal(child.Manifest, raw) {
			t.Errorf("child %s re-serialized", m.Digest)
		}
	}
	// Order: every child manifest and blob before the tag, the tag last.
	dst.mu.Lock()
	last := ""
	for _, req := range dst.requests {
		if strings.HasPrefix(req, "PUT ") {
			last = req
		}
	}
	dst.mu.Unlock()
	if last != "PUT /v2/mirror/nginx/manifests/1.27" {
		t.Errorf("last write = %q, want the tag", last)
	}
	// The shared base layer went up once, though both children use it.
	if n := dst.count("PUT /v2/mirror/nginx/blobs/uploads/", "digest="); n != 5 { // 2 configs, 2 own layers, 1 base
		t.Errorf("%d blob uploads, want 5", n)
	}
	if r := results[0]; r.BlobsUploaded != 5 || r.BlobsSkipped != 1 {
		t.Errorf("result = %+v", r)
	}
}

func TestSharedBlobsUploadedOnce(t *testing.T) {
	src, dst := newRecorder(t), newRecorder(t)
	base, _ := random.Layer(4096, types.OCILayer)
	var changes []diff.Change
	for _, repo := range []string{"a", "b", "c", "d", "e", "f"} {
		d := push(t, src.host()+"/library/"+repo+":1", twoPlatformIndex(t, base))
		changes = append(changes, change("docker.io/library/"+repo+":1", dst.host()+"/mirror/"+repo+":1", d))
	}
	results := engine(t, src, dst, WithParallelism(6)).Apply(context.Background(), changes)
	for _, r := range results {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	bd, _ := base.Digest()
	if n := dst.count("PUT ", "digest="+strings.Replace(bd.String(), ":", "%3A", 1)); n != 1 {
		t.Errorf("the shared base layer was uploaded %d times", n)
	}
	// Re-running finds everything in place: no uploads at all.
	dst.reset()
	results = engine(t, src, dst).Apply(context.Background(), changes)
	for _, r := range results {
		if r.Err != nil || r.BlobsUploaded != 0 {
			t.Errorf("re-run: %+v", r)
		}
	}
	if n := dst.count("PUT ", "/blobs/"); n != 0 {
		t.Errorf("re-run uploaded %d blobs", n)
	}
}

func TestCorruptBlobNeverLands(t *testing.T) {
	src, dst := newRecorder(t), newRecorder(t)
	base, _ := random.Layer(2048, types.OCILayer)
	d := push(t, src.host()+"/library/bad:1", twoPlatformIndex(t, base))
	good := push(t, src.host()+"/library/good:1", twoPlatformIndex(t, mustLayer(t)))
	bd, _ := base.Digest()
	src.corrupt[bd.String()] = true

	results := engine(t, src, dst, WithBlobRetries(1)).Apply(context.Background(), []diff.Change{
		change("docker.io/library/bad:1", dst.host()+"/mirror/bad:1", d),
		change("docker.io/library/good:1", dst.host()+"/mirror/good:1", good),
	})
	if results[0].Err == nil || !strings.Contains(results[0].Err.Error(), "does not match its digest") {
		t.Errorf("corrupt image: %v", results[0].Err)
	}
	if results[1].Err != nil {
		t.Errorf("a failed image stopped another: %v", results[1].Err)
	}
	if n := dst.count("PUT /v2/mirror/bad/manifests/", ""); n != 0 {
		t.Errorf("a manifest of the corrupt image was pushed %d times", n)
	}
	// The good image is checked after the copy: its tag's PUT answered
	// with the locked digest, which the registry says it stored.
	if n := dst.count("PUT /v2/mirror/good/manifests/1", ""); n != 1 {
		t.Errorf("good image's tag pushed %d times", n)
	}
	if results[1].Err != nil || results[1].Change.Digest.String() != good {
		t.Errorf("good image: %+v", results[1])
	}
}

func TestSourceMissing(t *testing.T) {
	src, dst := newRecorder(t), newRecorder(t)
	results := engine(t, src, dst).Apply(context.Background(), []diff.Change{
		change("docker.io/library/gone:1", dst.host()+"/mirror/gone:1", "sha256:"+strings.Repeat("a", 64)),
	})
	if err := results[0].Err; err == nil || !strings.Contains(err.Error(), "docker.io/library/gone@sha256:aaaa") {
		t.Errorf("err = %v", err)
	}
}

func TestForeignLayersStayReferences(t *testing.T) {
	src, dst := newRecorder(t), newRecorder(t)
	foreign, _ := random.Layer(512, types.DockerForeignLayer)
	img, _ := random.Image(256, 1)
	img, _ = mutate.Append(img, mutate.Addendum{Layer: foreign, URLs: []string{"https://example.com/layer.tar.gz"}, MediaType: types.DockerForeignLayer})
	img = mutate.MediaType(img, types.DockerManifestSchema2)
	tag, _ := name.NewTag(src.host()+"/library/win:1", name.Insecure)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	results := engine(t, src, dst).Apply(context.Background(), []diff.Change{change("docker.io/library/win:1", dst.host()+"/mirror/win:1", d.String())})
	if results[0].Err != nil {
		t.Fatal(results[0].Err)
	}
	fd, _ := foreign.Digest()
	if n := dst.count("", strings.Replace(fd.String(), ":", "%3A", 1)); n != 0 {
		t.Errorf("the foreign layer was sent %d times", n)
	}
}

func mustLayer(t *testing.T) v1.Layer {
	t.Helper()
	l, err := random.Layer(1024, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

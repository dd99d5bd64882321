package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
)

// countingRegistry is an in-process registry that counts requests by method.
type countingRegistry struct {
	*httptest.Server
	gets, heads atomic.Int64
}

func newRegistry(t *testing.T) *countingRegistry {
	t.Helper()
	c := &countingRegistry{}
	h := registry.New()
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") || strings.Contains(r.URL.Path, "/blobs/") {
			switch r.Method {
			case http.MethodGet:
				c.gets.Add(1)
			case http.MethodHead:
				c.heads.Add(1)
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *countingRegistry) host() string { return strings.TrimPrefix(c.URL, "http://") }

func pushIndex(t *testing.T, ref string) v1.Hash {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "arm64", Variant: "v8"}, {OS: "linux", Architecture: "amd64"}} {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	// An attestation manifest, as buildx adds them: not a platform.
	att, _ := random.Image(16, 1)
	adds = append(adds, mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}})
	idx := mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	return d
}

func pushImage(t *testing.T, ref string) v1.Hash {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf.OS, cf.Architecture, cf.Variant = "linux", "arm", "v7"
	img, _ = mutate.ConfigFile(img, cf)
	tag, _ := name.NewTag(ref, name.Insecure)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d
}

func clientFor(t *testing.T, hcl string) *Client {
	t.Helper()
	cfg, diags := config.Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(`target { registry = "127.0.0.1:1/x" }`+"\n"+hcl))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return New(cfg, WithKeychain(authn.NewMultiKeychain()))
}

func TestResolveThroughMirrors(t *testing.T) {
	empty1, mirror := newRegistry(t), newRegistry(t)
	want := pushIndex(t, mirror.host()+"/library/nginx:1.27")
	c := clientFor(t, `registry "docker.io" { mirrors = ["`+empty1.URL+`", "`+mirror.URL+`"] }`)

	ctx := context.Background()
	head, err := c.Resolve(ctx, imageref.MustParse("nginx:1.27"))
	if err != nil {
		t.Fatal(err)
	}
	if head.Digest.String() != want.String() || head.MediaType != string(types.OCIImageIndex) || head.Endpoint.Mirror != mirror.URL {
		t.Errorf("head = %+v, want %s from the second mirror", head, want)
	}
	if mirror.gets.Load() != 0 {
		t.Errorf("Resolve sent %d GETs; it must only HEAD", mirror.gets.Load())
	}
	platforms, err := c.Platforms(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(platforms, ",") != "linux/amd64,linux/arm64/v8" {
		t.Errorf("platforms = %v", platforms)
	}

	// A pinned reference is checked by digest.
	pinned := imageref.MustParse("nginx@" + want.String())
	if h, err := c.Resolve(ctx, pinned); err != nil || h.Digest.String() != want.String() {
		t.Errorf("pinned: %+v %v", h, err)
	}
}

func TestResolveSingleImageWithPrefix(t *testing.T) {
	mirror := newRegistry(t)
	want := pushImage(t, mirror.host()+"/hub/library/alpine:3")
	c := clientFor(t, `registry "docker.io" { mirrors = ["`+mirror.URL+`/hub"] }`)
	head, err := c.Resolve(context.Background(), imageref.MustParse("alpine:3"))
	if err != nil || head.Digest.String() != want.String() {
		t.Fatalf("head = %+v, %v", head, err)
	}
	platforms, err := c.Platforms(context.Background(), head)
	if err != nil || strings.Join(platforms, ",") != "linux/arm/v7" {
		t.Errorf("platforms = %v, %v", platforms, err)
	}
}

func TestResolveNotFound(t *testing.T) {
	mirror := newRegistry(t)
	c := clientFor(t, `registry "registry.invalid" { mirrors = ["`+mirror.URL+`"] }`)
	_, err := c.Resolve(context.Background(), imageref.MustParse("registry.invalid/a/b:1"))
	// Every endpoint and its answer; the caller names the reference.
	if err == nil || !strings.Contains(err.Error(), "registry.invalid: ") || !strings.Contains(err.Error(), "no such host") || !strings.Contains(err.Error(), "mirror "+mirror.URL+": ") {
		t.Fatalf("err = %v", err)
	}
	if errors.Is(err, ErrNotFound) {
		t.Error("an unreachable registry is not 'not found'")
	}

	// Only "not found" answers: ErrNotFound.
	host := mirror.host()
	c = clientFor(t, "")
	_, err = c.Resolve(context.Background(), imageref.MustParse(host+"/a/b:1"))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

func TestHostBound(t *testing.T) {
	var inFlight, peak atomic.Int64
	h := registry.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer inFlight.Add(-1)
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	pushImage(t, host+"/a/b:1")
	peak.Store(0)
	cfg, _ := config.Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(`target { registry = "127.0.0.1:1/x" }`))
	c := New(cfg, WithJobsPerHost(2), WithKeychain(authn.NewMultiKeychain()))
	done := make(chan error)
	for range 20 {
		go func() {
			_, err := c.Resolve(context.Background(), imageref.MustParse(host+"/a/b:1"))
			done <- err
		}()
	}
	for range 20 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("peak of %d requests in flight to one host, bound is 2", p)
	}
}

package referrers

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/registry"
)

// TestFinderLimits: Find refuses, naming the registry and the limit, a
// subject with more referrers than max_per_subject and an image whose
// subjects have more together than max_per_image; within them it finds
// every one.
func TestFinderLimits(t *testing.T) {
	srv := httptest.NewServer(ggcr.New(ggcr.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	var subjects []digest.Digest
	for i := range 2 {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		write(t, host+fmt.Sprintf("/a/b:%d", i), img)
		desc, _ := partial.Descriptor(img)
		subjects = append(subjects, digest.Digest(desc.Digest.String()))
		for j := range 3 {
			sig := mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.MediaType(fmt.Sprintf("application/vnd.example.sig%d+json", j))), types.OCIManifestSchema1)
			sig = mutate.Subject(sig, *desc).(v1.Image)
			d, _ := sig.Digest()
			write(t, host+"/a/b@"+d.String(), sig)
		}
	}
	cfg, diags := config.Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(`target { registry = "127.0.0.1:1/x" }`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	client := registry.New(cfg, registry.WithKeychain(authn.NewMultiKeychain()))
	ep, err := client.TargetRepository(imageref.MustParse(host + "/a/b:0"))
	if err != nil {
		t.Fatal(err)
	}
	f := NewFinder(client)
	for _, tc := range []struct {
		name string
		lim  Limits
		want string
	}{
		{"within", Limits{PerSubject: 3, PerImage: 6}, ""},
		{"per subject", Limits{PerSubject: 2, PerImage: 6}, "max_per_subject = 2"},
		{"per image", Limits{PerSubject: 3, PerImage: 5}, "6 for the image's 2 manifests, more than max_per_image = 5"},
	} {
		arts, err := f.Find(context.Background(), ep, subjects, tc.lim)
		if tc.want == "" {
			if err != nil || len(arts) != 6 {
				t.Errorf("%s: %d artifacts, %v; want 6", tc.name, len(arts), err)
			}
			continue
		}
		if !errors.Is(err, registry.ErrLimit) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), host+"/a/b") {
			t.Errorf("%s: err = %v, want %q naming the registry", tc.name, err, tc.want)
		}
	}
}

func write(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

package registry

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

// TestReferrers lists a signature attached to an image on a registry with
// the referrers API and on one without it (go-containerregistry writes the
// fallback tag's index there, as cosign does).
func TestReferrers(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "api", false: "fallback"}[api], func(t *testing.T) {
			srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(api)))
			t.Cleanup(srv.Close)
			host := srv.Listener.Addr().String()
			img := randomImage(t, 1)
			tag, err := name.NewTag(host+"/a/b:1", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(tag, img); err != nil {
				t.Fatal(err)
			}
			subject := hexOf(t, img)
			desc, err := partial.Descriptor(img)
			if err != nil {
				t.Fatal(err)
			}
			sig := mutate.MediaType(mutate.ConfigMediaType(empty.Image, "application/vnd.dev.cosign.artifact.sig.v1+json"), types.OCIManifestSchema1)
			sig = mutate.Subject(sig, *desc).(v1.Image)
			sigRef, err := name.NewDigest(host+"/a/b@"+hexOf(t, sig).String(), name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(sigRef, sig); err != nil {
				t.Fatal(err)
			}

			c := testClient(t, "", "")
			ref := imageref.MustParse(host + "/a/b:1")
			list, err := c.TargetReferrers(context.Background(), ref, subject)
			if err != nil {
				t.Fatal(err)
			}
			if list.API != api || len(list.Descriptors) != 1 || list.Descriptors[0].Digest.String() != hexOf(t, sig).String() ||
				list.Descriptors[0].ArtifactType != "application/vnd.dev.cosign.artifact.sig.v1+json" {
				t.Errorf("list = %+v", list)
			}
			if !api && (list.Fallback == nil || list.FallbackDigest != digest.FromBytes(list.Fallback)) {
				t.Errorf("fallback index not returned: %+v", list)
			}
			none, err := c.TargetReferrers(context.Background(), ref, digest.FromString("nothing"))
			if err != nil || len(none.Descriptors) != 0 || none.Fallback != nil {
				t.Errorf("referrers of a manifest without any: %+v, %v", none, err)
			}
			got, err := c.TargetHasManifest(context.Background(), ref, FallbackTag(subject))
			if api && !isNotFound(err) {
				t.Errorf("the API registry has a fallback tag: %s, %v", got, err)
			}
			if !api && (err != nil || got != list.FallbackDigest) {
				t.Errorf("fallback tag = %s, %v", got, err)
			}
		})
	}
}

func TestFallbackTag(t *testing.T) {
	d := digest.FromString("x")
	if got := FallbackTag(d); got != "sha256-"+d.Encoded() {
		t.Errorf("FallbackTag = %s", got)
	}
}

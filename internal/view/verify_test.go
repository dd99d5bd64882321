package view

import (
	"bytes"
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/verify"
)

// fixtureAuditor is fixtureTarget for verify: alpine's image lacks its
// layer blob.
type fixtureAuditor struct{ fixtureTarget }

func (fixtureAuditor) TargetTree(_ context.Context, _ imageref.Ref, d digest.Digest) (*registry.Manifest, error) {
	layer, _ := v1.NewHash(dg("alpine-layer").String())
	config, _ := v1.NewHash(dg("alpine-config").String())
	return &registry.Manifest{Digest: d, MediaType: string(types.OCIManifestSchema1), Blobs: []v1.Descriptor{
		{MediaType: types.OCIConfigJSON, Digest: config}, {MediaType: types.OCILayer, Digest: layer},
	}}, nil
}

func (fixtureAuditor) TargetHasBlob(_ context.Context, _ imageref.Ref, d digest.Digest) (bool, error) {
	return d != dg("alpine-layer"), nil
}

func TestVerifyViews(t *testing.T) {
	l, _ := fixtureLock(t)
	for _, tc := range []struct {
		name string
		lock *lock.Lock
		deep bool
	}{
		{"verify-problems", l, true},
		{"verify-ok", &lock.Lock{Images: l.Images[:1]}, false},
	} {
		rep, err := verify.Check(context.Background(), tc.lock, fixtureAuditor{}, verify.Options{Deep: tc.deep})
		if err != nil {
			t.Fatal(err)
		}
		var text, js bytes.Buffer
		if err := WriteVerify(&text, rep, "images.lock"); err != nil {
			t.Fatal(err)
		}
		if err := WriteVerifyJSON(&js, rep); err != nil {
			t.Fatal(err)
		}
		golden(t, tc.name+".txt", text.Bytes())
		golden(t, tc.name+".json", js.Bytes())
	}
}

package referrers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/registry"
)

// listingTarget lists referrers by subject and resolves tags, counting
// the listings; a tag named "broken" fails.
type listingTarget struct {
	listed   map[digest.Digest][]digest.Digest
	tagged   map[string]digest.Digest
	listings int
}

func (f *listingTarget) TargetReferrers(_ context.Context, _ imageref.Ref, subject digest.Digest) (registry.ReferrerList, error) {
	f.listings++
	var list registry.ReferrerList
	for _, d := range f.listed[subject] {
		list.Descriptors = append(list.Descriptors, v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: d.Encoded()}})
	}
	return list, nil
}

func (f *listingTarget) TargetHasManifest(_ context.Context, _ imageref.Ref, tag string) (digest.Digest, error) {
	if tag == "broken" {
		return "", errors.New("connection reset")
	}
	d, ok := f.tagged[tag]
	if !ok {
		return "", fmt.Errorf("HEAD %s: %w", tag, registry.ErrNotFound)
	}
	return d, nil
}

// TestMissing: an OCI referrer missing from its subject's listing, a
// cosign tag missing or pointing elsewhere are missing; one listing per
// subject; a failed HEAD is an error, not a missing artifact.
func TestMissing(t *testing.T) {
	d := func(s string) digest.Digest { return digest.FromString(s) }
	oci := func(name, subject string) Artifact {
		return Artifact{Digest: d(name), Kind: Signature, Subject: d(subject), Via: ViaReferrers}
	}
	tag := func(name, tag string) Artifact {
		return Artifact{Digest: d(name), Kind: Signature, Subject: d("index"), Via: ViaTag, Tag: tag}
	}
	target := func() *listingTarget {
		return &listingTarget{listed: map[digest.Digest][]digest.Digest{d("amd"): {d("sig-amd")}, d("arm"): nil},
			tagged: map[string]digest.Digest{"sha256-x.sig": d("classic"), "sha256-y.sig": d("other")}}
	}
	tests := []struct {
		name     string
		pinned   []Artifact
		want     []string // digests of the missing, by name
		listings int
		err      bool
	}{
		{name: "none pinned"},
		{name: "all listed", pinned: []Artifact{oci("sig-amd", "amd"), tag("classic", "sha256-x.sig")}, listings: 1},
		{name: "one listing per subject", pinned: []Artifact{oci("sig-amd", "amd"), oci("sbom-amd", "amd"), oci("sig-arm", "arm")},
			want: []string{"sbom-amd", "sig-arm"}, listings: 2},
		{name: "tag missing or elsewhere", pinned: []Artifact{tag("classic", "sha256-z.sig"), tag("classic", "sha256-y.sig")},
			want: []string{"classic", "classic"}},
		{name: "HEAD fails", pinned: []Artifact{tag("classic", "broken")}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := target()
			missing, err := Missing(context.Background(), tg, imageref.MustParse("reg.example.com/nginx:1"), tt.pinned)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			var got, want []digest.Digest
			for _, a := range missing {
				got = append(got, a.Digest)
			}
			for _, n := range tt.want {
				want = append(want, d(n))
			}
			if !slices.Equal(got, want) || tg.listings != tt.listings {
				t.Errorf("missing %v, %d listings; want %v, %d", got, tg.listings, want, tt.listings)
			}
		})
	}
}

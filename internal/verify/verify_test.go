package verify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/registry"
)

func dg(s string) digest.Digest { return digest.FromString(s) }

func hashOf(d digest.Digest) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: d.Encoded()} }

// fakeTarget is a target registry: tags, referrer listings and manifest
// trees by digest; every blob is present.
type fakeTarget struct {
	tags   map[string]digest.Digest          // target reference -> digest
	listed map[digest.Digest][]digest.Digest // subject -> referrers
	trees  map[digest.Digest]*registry.Manifest

	mu       sync.Mutex
	listings int // Check asks in parallel
}

func (f *fakeTarget) HeadTarget(_ context.Context, ref imageref.Ref) (registry.Head, error) {
	d, ok := f.tags[ref.String()]
	if !ok {
		return registry.Head{}, fmt.Errorf("HEAD %s: %w", ref, registry.ErrNotFound)
	}
	return registry.Head{Digest: d}, nil
}

func (f *fakeTarget) TargetTree(_ context.Context, _ imageref.Ref, d digest.Digest) (*registry.Manifest, error) {
	if t, ok := f.trees[d]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("manifest %s: %w", d, registry.ErrNotFound)
}

func (f *fakeTarget) TargetHasBlob(context.Context, imageref.Ref, digest.Digest) (bool, error) {
	return true, nil
}

func (f *fakeTarget) TargetReferrers(_ context.Context, _ imageref.Ref, subject digest.Digest) (registry.ReferrerList, error) {
	f.mu.Lock()
	f.listings++
	f.mu.Unlock()
	var list registry.ReferrerList
	for _, d := range f.listed[subject] {
		list.Descriptors = append(list.Descriptors, v1.Descriptor{Digest: hashOf(d)})
	}
	return list, nil
}

func (f *fakeTarget) TargetHasManifest(_ context.Context, _ imageref.Ref, tag string) (digest.Digest, error) {
	return "", fmt.Errorf("HEAD %s: %w", tag, registry.ErrNotFound)
}

func art(name string, subject digest.Digest, kind referrers.Kind) referrers.Artifact {
	return referrers.Artifact{Digest: dg(name), ArtifactType: referrers.BundleType, Kind: kind, Subject: subject, Via: referrers.ViaReferrers}
}

// TestCheck: a missing or moved target, a missing referrer, deep checks of
// a sparse index (the children left out are not problems), of an index
// mirrored whole and of a filtered one (its tag must name the filtered
// digest).
func TestCheck(t *testing.T) {
	amd := &registry.Manifest{Digest: dg("amd"), Descriptor: v1.Descriptor{Digest: hashOf(dg("amd")),
		Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}}
	arm := &registry.Manifest{Digest: dg("arm"), Err: fmt.Errorf("manifest unknown"),
		Descriptor: v1.Descriptor{Digest: hashOf(dg("arm")), Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}}
	index := &registry.Manifest{Digest: dg("nginx"), MediaType: "application/vnd.oci.image.index.v1+json",
		Entries: []v1.Descriptor{amd.Descriptor, arm.Descriptor}, Children: []*registry.Manifest{amd, arm}}
	pinned := []referrers.Artifact{art("sig", dg("amd"), referrers.Signature), art("gone", dg("amd"), referrers.SBOM)}
	nginx := lock.Image{Ref: imageref.MustParse("nginx:1"), Digest: dg("nginx"), Target: imageref.MustParse("reg.example.com/nginx:1")}
	sparse, filtered, signed := nginx, nginx, nginx
	sparse.PlatformMode, sparse.MirroredPlatforms = config.PlatformSparse, []string{"linux/amd64"}
	filtered.PlatformMode, filtered.MirroredPlatforms, filtered.FilteredDigest = config.PlatformFilter, []string{"linux/amd64"}, dg("filtered")
	signed.Referrers = pinned
	sparseSigned := sparse
	sparseSigned.Referrers = pinned
	elsewhere := nginx
	elsewhere.Target = imageref.MustParse("reg.example.com/nginx:2")

	tests := []struct {
		name     string
		img      lock.Image
		deep     bool
		noAsk    bool   // no Options.Referrers
		want     string // the problems' details, one a line
		err      string
		listings int
	}{
		{name: "in place", img: nginx},
		{name: "missing", img: elsewhere, want: "missing"},
		{name: "missing referrer", img: signed, listings: 1,
			want: "sbom " + imageref.ShortDigest(dg("gone")) + " of " + imageref.ShortDigest(dg("amd")) + " is missing"},
		{name: "sparse deep", img: sparseSigned, deep: true, listings: 1,
			want: "sbom " + imageref.ShortDigest(dg("gone")) + " of " + imageref.ShortDigest(dg("amd")) + " is missing"},
		{name: "whole index deep", img: nginx, deep: true,
			want: "manifest " + dg("arm").String() + ": manifest unknown"},
		{name: "filtered", img: filtered,
			want: "points at " + dg("nginx").String() + ", not the locked " + dg("filtered").String()},
		{name: "referrers without a target to ask", img: signed, noAsk: true, err: "cannot be asked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := &fakeTarget{tags: map[string]digest.Digest{"reg.example.com/nginx:1": dg("nginx")},
				listed: map[digest.Digest][]digest.Digest{dg("amd"): {dg("sig")}},
				trees:  map[digest.Digest]*registry.Manifest{dg("nginx"): index, dg("sig"): {Digest: dg("sig")}}}
			opts := Options{Deep: tt.deep, Referrers: target}
			if tt.noAsk {
				opts.Referrers = nil
			}
			rep, err := Check(context.Background(), &lock.Lock{Images: []lock.Image{tt.img}}, target, opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var details []string
			for _, p := range rep.Problems {
				details = append(details, p.Detail)
			}
			if got := strings.Join(details, "\n"); got != tt.want {
				t.Errorf("problems:\n%s\nwant:\n%s", got, tt.want)
			}
			if rep.Deep != tt.deep || rep.Images != 1 || target.listings != tt.listings {
				t.Errorf("deep %v, %d images, %d listings; want %v, 1, %d", rep.Deep, rep.Images, target.listings, tt.deep, tt.listings)
			}
		})
	}
}

package diff

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/registry"
)

// supplyTarget is fakeTarget that also lists referrers and tags, and
// holds manifest trees for verify.
type supplyTarget struct {
	fakeTarget
	listed   map[digest.Digest][]digest.Digest // subject -> referrers
	tagged   map[string]digest.Digest
	trees    map[digest.Digest]*registry.Manifest
	listings atomic.Int64 // Make lists referrers from its fan-out
}

func (s *supplyTarget) TargetReferrers(_ context.Context, _ imageref.Ref, subject digest.Digest) (registry.ReferrerList, error) {
	s.listings.Add(1)
	var list registry.ReferrerList
	for _, d := range s.listed[subject] {
		list.Descriptors = append(list.Descriptors, v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: d.Encoded()}})
	}
	return list, nil
}

func (s *supplyTarget) TargetHasManifest(_ context.Context, _ imageref.Ref, tag string) (digest.Digest, error) {
	d, ok := s.tagged[tag]
	if !ok {
		return "", fmt.Errorf("HEAD %s: %w", tag, registry.ErrNotFound)
	}
	return d, nil
}

func (s *supplyTarget) TargetTree(_ context.Context, _ imageref.Ref, d digest.Digest) (*registry.Manifest, error) {
	if t, ok := s.trees[d]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("manifest %s: %w", d, registry.ErrNotFound)
}

func (s *supplyTarget) TargetHasBlob(context.Context, imageref.Ref, digest.Digest) (bool, error) {
	return true, nil
}

func art(name string, subject digest.Digest, kind referrers.Kind) referrers.Artifact {
	return referrers.Artifact{Digest: dg(name), ArtifactType: referrers.BundleType, Kind: kind, Subject: subject, Via: referrers.ViaReferrers}
}

// supplyLock: nginx in place with a signature listed and an SBOM not;
// redis in place with a cosign tag pointing elsewhere; minio filtered
// for amd64, in place at its filtered digest with its referrer listed.
func supplyLock() *lock.Lock {
	l := testLock()
	nginx, redis := l.Image(imageref.MustParse("nginx:1.27-alpine")), l.Image(imageref.MustParse("redis:7-alpine"))
	minio := l.Image(imageref.MustParse("quay.io/minio/minio:latest"))
	nginx.Referrers = []referrers.Artifact{art("sig", dg("nginx"), referrers.Signature), art("sbom", dg("nginx"), referrers.SBOM)}
	redis.Referrers = []referrers.Artifact{{Digest: dg("classic"), ArtifactType: "x/y", Kind: referrers.Signature, Subject: dg("redis-new"),
		Via: referrers.ViaTag, Tag: "sha256-" + dg("redis-new").Encoded() + ".sig"}}
	minio.PlatformMode, minio.MirroredPlatforms, minio.FilteredDigest = config.PlatformFilter, []string{"linux/amd64"}, dg("minio-amd64-index")
	minio.Referrers = []referrers.Artifact{art("minio-sig", dg("minio-amd64"), referrers.Signature)}
	return l
}

func TestMakeReferrers(t *testing.T) {
	target := &supplyTarget{
		fakeTarget: fakeTarget{tags: map[string]digest.Digest{
			"reg.example.com/aim/nginx:1.27-alpine":               dg("nginx"),
			"reg.example.com/aim/redis:7-alpine":                  dg("redis-new"),
			"reg.example.com/aim/minio/minio:latest":              dg("minio-amd64-index"),
			"reg.example.com/aim/alpine@" + dg("alpine").String(): dg("alpine"),
		}},
		listed: map[digest.Digest][]digest.Digest{dg("nginx"): {dg("sig")}, dg("minio-amd64"): {dg("minio-sig")}},
		tagged: map[string]digest.Digest{"sha256-" + dg("redis-new").Encoded() + ".sig": dg("older")},
	}
	p, err := Make(context.Background(), supplyLock(), dg("lock"), target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Change{}
	for _, c := range p.Changes {
		got[c.Source.Path()] = c
	}
	if c := got["library/nginx"]; c.Action != Referrers || len(c.Referrers) != 1 || c.Referrers[0].Kind != referrers.SBOM {
		t.Errorf("nginx = %+v", c)
	}
	if c := got["library/redis"]; c.Action != Referrers || len(c.Referrers) != 1 {
		t.Errorf("redis = %+v", c)
	}
	if c := got["minio/minio"]; c.Action != NoOp || c.Referrers != nil || c.TargetDigest() != dg("minio-amd64-index") {
		t.Errorf("minio = %+v", c)
	}
	if p.Summary != (Summary{Referrers: 2, Unchanged: 2}) || !p.Summary.HasChanges() || target.listings.Load() != 2 {
		t.Errorf("summary %+v, %d listings", p.Summary, target.listings.Load())
	}
	// A target without the referrers calls cannot check them.
	if _, err := Make(context.Background(), supplyLock(), dg("lock"), &target.fakeTarget, Options{}); err == nil ||
		!strings.Contains(err.Error(), "cannot be asked") {
		t.Errorf("Make without a ReferrerObserver: %v", err)
	}

	// The plan file keeps everything apply needs.
	var b bytes.Buffer
	if err := EncodePlan(&b, p); err != nil {
		t.Fatal(err)
	}
	back, err := DecodePlan(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", back, p)
	}
	bad := strings.Replace(b.String(), `"via": "tag"`, `"via": "smoke"`, 1)
	if _, err := DecodePlan(strings.NewReader(bad)); err == nil {
		t.Error("a referrer with an unknown via was accepted")
	}
}

// TestVerifySupply: a missing referrer is a problem; deep verify of a
// sparse index ignores the children left out, of a filtered one checks
// the filtered digest.
func TestVerifySupply(t *testing.T) {
	amd := &registry.Manifest{Digest: dg("amd"), Descriptor: v1.Descriptor{Digest: hashOf(dg("amd")),
		Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}}
	arm := &registry.Manifest{Digest: dg("arm"), Err: fmt.Errorf("manifest unknown"),
		Descriptor: v1.Descriptor{Digest: hashOf(dg("arm")), Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}}
	index := &registry.Manifest{Digest: dg("nginx"), MediaType: "application/vnd.oci.image.index.v1+json",
		Entries: []v1.Descriptor{amd.Descriptor, arm.Descriptor}, Children: []*registry.Manifest{amd, arm}}
	l := &lock.Lock{Images: []lock.Image{{Ref: imageref.MustParse("nginx:1"), Digest: dg("nginx"), Target: imageref.MustParse("reg.example.com/nginx:1"),
		PlatformMode: config.PlatformSparse, MirroredPlatforms: []string{"linux/amd64"},
		Referrers: []referrers.Artifact{art("sig", dg("amd"), referrers.Signature), art("gone", dg("amd"), referrers.SBOM)}}}}
	target := &supplyTarget{fakeTarget: fakeTarget{tags: map[string]digest.Digest{"reg.example.com/nginx:1": dg("nginx")}},
		listed: map[digest.Digest][]digest.Digest{dg("amd"): {dg("sig")}},
		trees:  map[digest.Digest]*registry.Manifest{dg("nginx"): index, dg("sig"): {Digest: dg("sig")}}}
	rep, err := Verify(context.Background(), l, target, VerifyOptions{Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, p := range rep.Problems {
		details = append(details, p.Detail)
	}
	want := "sbom " + imageref.ShortDigest(dg("gone")) + " of " + imageref.ShortDigest(dg("amd")) + " is missing"
	if strings.Join(details, "\n") != want {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(details, "\n"), want)
	}
	// Mirrored whole, the missing arm64 child is a problem.
	l.Images[0].PlatformMode, l.Images[0].MirroredPlatforms, l.Images[0].Referrers = "", nil, nil
	rep, err = Verify(context.Background(), l, target, VerifyOptions{Deep: true})
	if err != nil || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Detail, dg("arm").String()) {
		t.Errorf("whole index: %+v, %v", rep, err)
	}
	// Filtered: the tag must point at the filtered index.
	l.Images[0].PlatformMode, l.Images[0].MirroredPlatforms, l.Images[0].FilteredDigest = config.PlatformFilter, []string{"linux/amd64"}, dg("filtered")
	rep, err = Verify(context.Background(), l, target, VerifyOptions{})
	if err != nil || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Detail, "not the locked "+dg("filtered").String()) {
		t.Errorf("filtered: %+v, %v", rep, err)
	}
}

func hashOf(d digest.Digest) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: d.Encoded()} }

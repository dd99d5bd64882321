package diff

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/registry"
)

// scopeTarget is fakeTarget that also lists referrers and tags.
type scopeTarget struct {
	fakeTarget
	listed   map[digest.Digest][]digest.Digest // subject -> referrers
	tagged   map[string]digest.Digest
	listings int // guarded by fakeTarget.mu: Make asks in parallel
}

func (s *scopeTarget) TargetReferrers(_ context.Context, _ imageref.Ref, subject digest.Digest) (registry.ReferrerList, error) {
	s.mu.Lock()
	s.listings++
	s.mu.Unlock()
	var list registry.ReferrerList
	for _, d := range s.listed[subject] {
		list.Descriptors = append(list.Descriptors, v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: d.Encoded()}})
	}
	return list, nil
}

func (s *scopeTarget) TargetHasManifest(_ context.Context, _ imageref.Ref, tag string) (digest.Digest, error) {
	d, ok := s.tagged[tag]
	if !ok {
		return "", fmt.Errorf("HEAD %s: %w", tag, registry.ErrNotFound)
	}
	return d, nil
}

func art(name string, subject digest.Digest, kind referrers.Kind) referrers.Artifact {
	return referrers.Artifact{Digest: dg(name), ArtifactType: referrers.BundleType, Kind: kind, Subject: subject, Via: referrers.ViaReferrers}
}

// scopeLock: nginx in place with a signature listed and an SBOM not;
// redis in place with a cosign tag pointing elsewhere; minio filtered
// for amd64, in place at its filtered digest with its referrer listed.
func scopeLock() *lock.Lock {
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
	target := &scopeTarget{
		fakeTarget: fakeTarget{tags: map[string]digest.Digest{
			"reg.example.com/aim/nginx:1.27-alpine":               dg("nginx"),
			"reg.example.com/aim/redis:7-alpine":                  dg("redis-new"),
			"reg.example.com/aim/minio/minio:latest":              dg("minio-amd64-index"),
			"reg.example.com/aim/alpine@" + dg("alpine").String(): dg("alpine"),
		}},
		listed: map[digest.Digest][]digest.Digest{dg("nginx"): {dg("sig")}, dg("minio-amd64"): {dg("minio-sig")}},
		tagged: map[string]digest.Digest{"sha256-" + dg("redis-new").Encoded() + ".sig": dg("older")},
	}
	p, err := Make(context.Background(), scopeLock(), dg("lock"), target, Options{Referrers: target})
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
	if p.Summary != (Summary{Referrers: 2, Unchanged: 2}) || !p.Summary.HasChanges() || target.listings != 2 {
		t.Errorf("summary %+v, %d listings", p.Summary, target.listings)
	}
	// Without a target to ask for referrers, they cannot be checked.
	if _, err := Make(context.Background(), scopeLock(), dg("lock"), &target.fakeTarget, Options{}); err == nil ||
		!strings.Contains(err.Error(), "cannot be asked") {
		t.Errorf("Make without Options.Referrers: %v", err)
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

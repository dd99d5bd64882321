package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/registry"
)

// fakeScope serves every index as two platforms (children named
// "<index>/amd64" and "<index>/arm64") and the artifacts of attached.
type fakeScope struct {
	mu        sync.Mutex
	attached  map[digest.Digest][]referrers.Artifact
	manifests int
	asked     []digest.Digest // subjects asked for
}

func child(index digest.Digest, arch string) digest.Digest { return dg(index.String() + "/" + arch) }

func (f *fakeScope) Manifest(_ context.Context, head registry.Head) (*registry.Manifest, error) {
	f.mu.Lock()
	f.manifests++
	f.mu.Unlock()
	im := v1.IndexManifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json"}
	for _, arch := range []string{"amd64", "arm64"} {
		h, _ := v1.NewHash(child(head.Digest, arch).String())
		im.Manifests = append(im.Manifests, v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: h, Size: 1,
			Platform: &v1.Platform{OS: "linux", Architecture: arch}})
	}
	data, err := json.Marshal(im)
	return &registry.Manifest{Digest: head.Digest, MediaType: string(im.MediaType), Data: data, Entries: im.Manifests}, err
}

func (f *fakeScope) Find(_ context.Context, _ registry.Endpoint, subjects []digest.Digest, _ referrers.Limits) ([]referrers.Artifact, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, subjects...)
	var out []referrers.Artifact
	for _, s := range subjects {
		out = append(out, f.attached[s]...)
	}
	return out, nil
}

func signature(subject digest.Digest, name string) referrers.Artifact {
	return referrers.Artifact{Digest: dg(name), ArtifactType: referrers.BundleType, Kind: referrers.Signature, Subject: subject, Via: referrers.ViaReferrers}
}

func sbom(subject digest.Digest, name string) referrers.Artifact {
	return referrers.Artifact{Digest: dg(name), ArtifactType: "application/vnd.dsse.envelope.v1+json", Kind: referrers.SBOM,
		Subject: subject, Via: referrers.ViaTag, Tag: "sha256-" + subject.Encoded() + ".att"}
}

// TestUpdateReferrers pins what is attached to the index and its
// children, asks again only on --upgrade, and applies a narrower policy
// without asking anything.
func TestUpdateReferrers(t *testing.T) {
	cfg, _ := repo(t, "")
	res := &fakeResolver{tags: map[string]string{"docker.io/library/nginx:1.27": "nginx", "docker.io/library/redis:7": "redis"}}
	nginx := dg("nginx")
	sup := &fakeScope{attached: map[digest.Digest][]referrers.Artifact{
		nginx: {signature(nginx, "sig")}, child(nginx, "amd64"): {sbom(child(nginx, "amd64"), "sbom")},
	}}
	ctx := context.Background()
	l, changes, err := Update(ctx, cfg, found(nil, "nginx:1.27", "redis:7"), nil, res, Options{Scope: sup})
	if err != nil {
		t.Fatal(err)
	}
	img := l.Images[0]
	if len(img.Referrers) != 2 || img.Referrers[0].Subject == img.Referrers[1].Subject || len(sup.asked) != 6 {
		t.Fatalf("referrers %+v, asked %d subjects, want 6 (two indexes and their children)", img.Referrers, len(sup.asked))
	}
	if res.platforms != 0 || sup.manifests != 2 {
		t.Errorf("each index read %d+%d times, want once", res.platforms, sup.manifests)
	}
	if got := changes[0].String(); !strings.HasSuffix(got, "(+1 signature, +1 SBOM)") || strings.Contains(changes[1].String(), "(") {
		t.Errorf("changes: %q, %q", got, changes[1])
	}
	// No referrers upstream: the image is locked as it always was.
	plain, _, err := Update(ctx, cfg, found(nil, "redis:7"), nil, res, Options{})
	if err != nil || !strings.Contains(string(lock.Format(l)), withoutHeader(lock.Format(plain))) {
		t.Errorf("redis without referrers differs from a lock made without looking for any:\n%s", lock.Format(l))
	}

	sup.asked, sup.manifests = nil, 0
	sup.attached[child(nginx, "arm64")] = []referrers.Artifact{signature(child(nginx, "arm64"), "late")}
	again, changes, err := Update(ctx, cfg, found(nil, "nginx:1.27", "redis:7"), l, res, Options{Scope: sup})
	if err != nil || len(changes) != 0 || len(sup.asked)+sup.manifests != 0 || len(again.Images[0].Referrers) != 2 {
		t.Fatalf("plain relock: changes %v, asked %v, %d manifests, err %v", changes, sup.asked, sup.manifests, err)
	}
	upgraded, changes, err := Update(ctx, cfg, found(nil, "nginx:1.27", "redis:7"), l, res, Options{Scope: sup, Upgrade: true})
	if err != nil || len(upgraded.Images[0].Referrers) != 3 || len(changes) != 1 || changes[0].String() != "~ image docker.io/library/nginx:1.27: referrers +1 signature" {
		t.Fatalf("upgrade: %+v, changes %v, err %v", upgraded.Images[0].Referrers, changes, err)
	}

	// Only bundles, then none at all: applied from the lock, offline.
	cfg.Referrers = &config.Referrers{ArtifactTypes: []string{referrers.BundleType}}
	sup.asked = nil
	narrow, changes, err := Update(ctx, cfg, found(nil, "nginx:1.27", "redis:7"), upgraded, res, Options{Scope: sup})
	if err != nil || len(narrow.Images[0].Referrers) != 2 || len(sup.asked) != 0 || len(changes) != 1 || changes[0].Detail != "referrers -1 SBOM" {
		t.Errorf("narrowed: %+v, changes %v, asked %v, err %v", narrow.Images[0].Referrers, changes, sup.asked, err)
	}
	off := false
	cfg.Referrers = &config.Referrers{Enabled: &off}
	stale, err := Check(cfg, found(nil, "nginx:1.27", "redis:7"), upgraded)
	if err != nil || len(stale) != 1 || stale[0].Detail != "referrers -2 signatures, -1 SBOM" {
		t.Errorf("check with referrers disabled: %v, %v", stale, err)
	}
}

// TestUpdatePlatforms chooses platforms: filter records the new index's
// digest and pins only the kept child's referrers, sparse keeps the
// index's, a missing platform fails naming the image, and another choice
// for the same digest makes the lock stale and is pinned again without
// moving the tag.
func TestUpdatePlatforms(t *testing.T) {
	cfg, _ := repo(t, "")
	cfg.Target.Platforms = []string{"linux/amd64"}
	res := &fakeResolver{tags: map[string]string{"docker.io/library/nginx:1.27": "nginx"}}
	nginx := dg("nginx")
	sup := &fakeScope{attached: map[digest.Digest][]referrers.Artifact{
		nginx: {signature(nginx, "sig")}, child(nginx, "amd64"): {signature(child(nginx, "amd64"), "amd-sig")},
		child(nginx, "arm64"): {signature(child(nginx, "arm64"), "arm-sig")},
	}}
	ctx := context.Background()
	l, _, err := Update(ctx, cfg, found(nil, "nginx:1.27"), nil, res, Options{Scope: sup})
	if err != nil {
		t.Fatal(err)
	}
	img := l.Images[0]
	if img.PlatformMode != config.PlatformFilter || strings.Join(img.MirroredPlatforms, ",") != "linux/amd64" ||
		img.FilteredDigest == "" || img.TargetDigest() != img.FilteredDigest || len(img.Referrers) != 1 ||
		img.Referrers[0].Subject != child(nginx, "amd64") || strings.Join(img.Platforms, ",") != "linux/amd64,linux/arm64" {
		t.Fatalf("filtered image = %+v", img)
	}

	cfg.Target.PlatformMode = config.PlatformSparse
	stale, err := Check(cfg, found(nil, "nginx:1.27"), l)
	if err != nil || len(stale) != 1 || stale[0].Detail != "platforms linux/amd64 (filter) -> linux/amd64 (sparse)" {
		t.Fatalf("check after choosing sparse: %v, %v", stale, err)
	}
	res.resolved, sup.manifests = nil, 0
	sparse, changes, err := Update(ctx, cfg, found(nil, "nginx:1.27"), l, res, Options{Scope: sup})
	if err != nil {
		t.Fatal(err)
	}
	img = sparse.Images[0]
	if img.FilteredDigest != "" || img.TargetDigest() != nginx || len(img.Referrers) != 2 || sup.manifests != 1 ||
		!slices.Equal(res.resolved, []string{"docker.io/library/nginx:1.27@" + nginx.String()}) || len(changes) != 1 {
		t.Errorf("sparse image = %+v, resolved %v, changes %v", img, res.resolved, changes)
	}

	cfg.Target.Platforms = []string{"linux/amd64", "linux/s390x"}
	_, _, err = Update(ctx, cfg, found(nil, "nginx:1.27"), nil, res, Options{Scope: sup})
	var rerr *resolveError
	if !errors.As(err, &rerr) || !strings.Contains(err.Error(), "docker.io/library/nginx:1.27 (from compose.yaml#services.nginx:1.27.image): upstream has no linux/s390x image (it has linux/") {
		t.Errorf("missing platform: %v", err)
	}
}

package lock

import (
	"slices"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/referrers"
)

// TestDiff: each way an entry of the lock changes is one line, images
// before builds, each sorted by reference; equal locks differ in nothing.
func TestDiff(t *testing.T) {
	sig := referrers.Artifact{Digest: dg("sig"), ArtifactType: referrers.BundleType, Kind: referrers.Signature,
		Subject: dg("nginx"), Via: referrers.ViaReferrers}
	minio, nginx := imageref.MustParse("quay.io/minio/minio:latest"), imageref.MustParse("nginx:1.27-alpine")
	backend := imageref.MustParse("ai-infra-backend:v0.3.5")
	tests := []struct {
		name   string
		change func(l *Lock)
		want   []string
	}{
		{name: "equal", change: func(*Lock) {}},
		{name: "image added", change: func(l *Lock) {
			l.Images = append(l.Images, Image{Ref: imageref.MustParse("redis:7"), Digest: dg("redis")})
		}, want: []string{"+ image docker.io/library/redis:7 " + imageref.ShortDigest(dg("redis"))}},
		{name: "image removed", change: func(l *Lock) {
			l.Images = slices.DeleteFunc(l.Images, func(i Image) bool { return i.Ref == minio })
		}, want: []string{"- image " + minio.String()}},
		{name: "digest upgraded, with referrers", change: func(l *Lock) {
			img := l.Image(nginx)
			img.Digest, img.Referrers = dg("nginx-2"), []referrers.Artifact{sig}
		}, want: []string{"~ image " + nginx.String() + ": digest " + imageref.ShortDigest(dg("nginx")) + " -> " +
			imageref.ShortDigest(dg("nginx-2")) + " (+1 signature)"}},
		{name: "target and sources moved", change: func(l *Lock) {
			img := l.Image(minio)
			img.Target, img.Sources = imageref.MustParse("reg.example.com/other/minio:latest"), []string{"compose.yaml#services.minio.image"}
		}, want: []string{"~ image " + minio.String() + ": target reg.example.com/aim/minio/minio:latest -> reg.example.com/other/minio:latest; " +
			"sources [docker-compose.yml#services.minio.image] -> [compose.yaml#services.minio.image]"}},
		{name: "mirror scope chosen", change: func(l *Lock) {
			img := l.Image(minio)
			img.PlatformMode, img.MirroredPlatforms, img.FilteredDigest = config.PlatformFilter, []string{"linux/amd64"}, dg("filtered")
			img.Referrers = []referrers.Artifact{sig}
		}, want: []string{"~ image " + minio.String() + ": platforms all -> linux/amd64 (filter); referrers +1 signature"}},
		{name: "build inputs and bases", change: func(l *Lock) {
			l.Build(backend).Inputs = dg("inputs-2")
			l.Builds[1].Bases = []imageref.Ref{nginx}
		}, want: []string{
			"~ build " + backend.String() + ": inputs " + imageref.ShortDigest(dg("inputs")) + " -> " + imageref.ShortDigest(dg("inputs-2")),
			"~ build docker.io/library/ai-infra-nginx:v0.3.5: bases \"\" -> \"" + nginx.String() + "\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, next := sampleLock(), sampleLock()
			old.Normalize()
			next.Normalize() // Image and Build search the sorted lists
			tt.change(next)
			next.Normalize()
			var got []string
			for _, c := range Diff(old, next) {
				got = append(got, c.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

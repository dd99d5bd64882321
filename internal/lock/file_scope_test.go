package lock

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/referrers"
)

// scopeLock is sampleLock with minio mirrored for amd64 only (filter) and
// signed, and nginx mirrored sparse with a cosign tag.
func scopeLock() *Lock {
	l := sampleLock()
	minio := &l.Images[0]
	minio.PlatformMode, minio.MirroredPlatforms, minio.FilteredDigest = config.PlatformFilter, []string{"linux/amd64"}, dg("minio-amd64-index")
	minio.Referrers = []referrers.Artifact{
		{Digest: dg("sbom"), ArtifactType: referrers.BundleType, Kind: referrers.SBOM, Subject: dg("minio-amd64"), Via: referrers.ViaReferrers},
		{Digest: dg("sig"), ArtifactType: referrers.BundleType, Kind: referrers.Signature, Subject: dg("minio-amd64"), Via: referrers.ViaReferrers},
	}
	nginx := &l.Images[1]
	nginx.PlatformMode, nginx.MirroredPlatforms = config.PlatformSparse, []string{"linux/amd64"}
	nginx.Referrers = []referrers.Artifact{{Digest: dg("classic"), ArtifactType: "application/vnd.dev.cosign.simplesigning.v1+json",
		Kind: referrers.Signature, Subject: dg("nginx"), Via: referrers.ViaTag, Tag: "sha256-" + dg("nginx").Encoded() + ".sig"}}
	return l
}

// TestScopeGolden writes an image's platform choice and referrers after
// what every lock has, while images without them stay byte for byte as
// locks always had them (sample.lock is their golden).
func TestScopeGolden(t *testing.T) {
	got := Format(scopeLock())
	golden := filepath.Join("testdata", "scope.lock")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Format differs from %s (run go test -update):\n%s", golden, got)
	}
	plain := string(Format(sampleLock()))
	alpine := plain[strings.Index(plain, `image "docker.io/library/alpine`):strings.Index(plain, `image "docker.io/library/nginx`)]
	if !strings.Contains(string(got), alpine) {
		t.Errorf("the image without referrers changed:\n%s", got)
	}
	l, diags := Parse(hclparse.NewParser(), "images.lock", got)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if again := Format(l); !bytes.Equal(again, got) {
		t.Errorf("round trip changed the file:\n%s", again)
	}
	minio := l.Image(imageref.MustParse("quay.io/minio/minio:latest"))
	if minio.TargetDigest() != dg("minio-amd64-index") || len(minio.Referrers) != 2 || minio.Referrers[0].Kind == "" {
		t.Errorf("minio = %+v", minio)
	}
	if nginx := l.Image(imageref.MustParse("nginx:1.27-alpine")); nginx.TargetDigest() != dg("nginx") || nginx.Referrers[0].Tag == "" {
		t.Errorf("nginx = %+v", nginx)
	}
}

func TestScopeParseErrors(t *testing.T) {
	good := string(Format(scopeLock()))
	tag := `    tag           = "sha256-` + dg("nginx").Encoded() + `.sig"` + "\n"
	tests := []struct{ name, old, new, want string }{
		{"bad mode", `platform_mode = "sparse"`, `platform_mode = "thin"`, "Invalid platform_mode in lockfile"},
		{"target digest when sparse", `platform_mode = "sparse"`, `platform_mode = "sparse"` + "\n  target_digest = \"" + dg("x").String() + `"`, "Unexpected target_digest in lockfile"},
		{"mode without platforms", "  mirrored_platforms = [\n    \"linux/amd64\",\n  ]\n  target_digest", "  target_digest", "Incomplete platform choice in lockfile"},
		{"bad referrer digest", `referrer "` + dg("sig").String(), `referrer "sha256:12`, "Invalid digest in lockfile"},
		{"bad subject", `subject       = "` + dg("minio-amd64").String(), `subject       = "x`, "Invalid digest in lockfile"},
		{"bad kind", `kind          = "sbom"`, `kind          = "poem"`, "Invalid referrer kind in lockfile"},
		{"bad via", `via           = "tag"`, `via           = "smoke"`, "Invalid via in lockfile"},
		{"tag without via tag", `via           = "tag"`, `via           = "referrers"`, "Unexpected tag in lockfile"},
		{"via tag without tag", tag, "", "Missing tag in lockfile"},
		// Issue 19 case 9: a lock may not make apply write any tag.
		{"arbitrary tag", tag, `    tag           = "latest"` + "\n", "Invalid referrer tag in lockfile"},
		{"path in tag", tag, `    tag           = "../../v2/x/manifests/latest"` + "\n", "is not a valid tag"},
		{"tag of another subject", tag, `    tag           = "sha256-` + dg("other").Encoded() + `.sig"` + "\n", "is not cosign's tag of the subject"},
		{"fallback tag", tag, `    tag           = "sha256-` + dg("nginx").Encoded() + `"` + "\n", "is not cosign's tag of the subject"},
		{"suffix of another kind", tag, `    tag           = "sha256-` + dg("nginx").Encoded() + `.sbom"` + "\n", "holds a sbom, not a signature"},
		{"missing subject", `    subject       = "` + dg("nginx").String() + `"` + "\n", "", "Missing required argument"},
		{"unknown attribute", `kind          = "sbom"`, `kind          = "sbom"` + "\n    size = 3", "Unsupported argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(good, tt.old, tt.new, 1)
			if src == good {
				t.Fatal("test case did not change the input")
			}
			l, diags := Parse(hclparse.NewParser(), "images.lock", []byte(src))
			if !diags.HasErrors() || l != nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(diags.Error(), tt.want) {
				t.Errorf("diags = %v, want %q", diags, tt.want)
			}
			for _, d := range diags {
				if d.Subject == nil || d.Subject.Start.Line == 0 {
					t.Errorf("diagnostic without a place: %v", d)
				}
			}
		})
	}
}

// TestCommittedLockUnchanged: the repository's own images.lock, whose
// images have no referrers and no platform choice, formats to the same
// bytes: locks written before referrers existed do not churn.
func TestCommittedLockUnchanged(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "images.lock"))
	if err != nil {
		t.Fatal(err)
	}
	l, diags := Parse(hclparse.NewParser(), "images.lock", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := Format(l); !bytes.Equal(got, src) {
		t.Errorf("the committed images.lock formats differently:\n%s", got)
	}
}

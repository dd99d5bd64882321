package e2e

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// referrersAPIRegistry is go-containerregistry's registry with the OCI
// referrers API, on a loopback port, for as long as the test runs.
func referrersAPIRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// supplyImages are the stand-in upstream images of the supply-chain
// tests: a single-platform image and a two-platform index to sign, and one
// nobody signs.
var supplyImages = []fakeupstream.Image{
	{Ref: "docker.io/signed/single:1", Platforms: []string{"linux/amd64"}, Single: true, Format: fakeupstream.OCI, Base: "alpine"},
	{Ref: "docker.io/signed/multi:1", Platforms: []string{"linux/amd64", "linux/arm64"}, Format: fakeupstream.OCI, Base: "alpine"},
	{Ref: "docker.io/plain/unsigned:1", Platforms: []string{"linux/amd64", "linux/arm64"}, Format: fakeupstream.OCI, Base: "alpine"},
}

// pushSupplyImages pushes supplyImages to upstream and returns their
// digests by reference.
func pushSupplyImages(t *testing.T, upstream string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, img := range supplyImages {
		d, err := fakeupstream.Push(context.Background(), img, map[string]string{"docker.io": upstream})
		if err != nil {
			t.Fatal(err)
		}
		out[img.Ref] = d
	}
	return out
}

// supplyRepo is a repository whose compose file runs supplyImages, mirrored
// from upstream (standing in for docker.io) to target; extra is added to
// its images.hcl.
func supplyRepo(t *testing.T, upstream, target, extra string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "images.hcl"), `target { registry = "`+target+`/mirror" }
registry "docker.io" { mirrors = ["http://`+upstream+`"] }
`+extra)
	writeFile(t, filepath.Join(dir, "compose.yaml"), `services:
  single:
    image: signed/single:1
  multi:
    image: signed/multi:1
  plain:
    image: plain/unsigned:1
`)
	return dir
}

// indexOf is the index a reference names on a loopback registry.
func indexOf(t *testing.T, ref string) *v1.IndexManifest {
	t.Helper()
	im, err := v1.ParseIndexManifest(bytes.NewReader(getManifest(t, ref).raw))
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return im
}

// childDigest is the digest of an index's child of one platform.
func childDigest(t *testing.T, ref, arch string) string {
	t.Helper()
	for _, c := range indexOf(t, ref).Manifests {
		if c.Platform != nil && c.Platform.Architecture == arch {
			return c.Digest.String()
		}
	}
	t.Fatalf("%s has no %s child", ref, arch)
	return ""
}

// TestSupplyChain signs and attests an SBOM for a single-platform image and
// a multi-platform index upstream with the real cosign, in each of the
// three forms in use, locks and applies them, and verifies the signatures
// and attestations against the target with cosign.
func TestSupplyChain(t *testing.T) {
	forms := []struct {
		name    string
		classic bool // cosign's .sig/.att tags rather than sigstore bundles as referrers
		api     bool // registries with the OCI referrers API rather than the fallback tag
		via     referrers.Via
	}{
		{"bundles-fallback-tag", false, false, referrers.ViaReferrers},
		{"bundles-referrers-api", false, true, referrers.ViaReferrers},
		{"classic-tags", true, false, referrers.ViaTag},
	}
	for _, form := range forms {
		t.Run(form.name, func(t *testing.T) {
			s := newSigner(t)
			upstream, target := testregistry.StartT(t).Host(), testregistry.StartT(t).Host()
			if form.api {
				upstream, target = referrersAPIRegistry(t), referrersAPIRegistry(t)
			}
			digests := pushSupplyImages(t, upstream)
			for _, ref := range []string{"signed/single", "signed/multi"} {
				upRef := upstream + "/" + ref + "@" + digests["docker.io/"+ref+":1"]
				s.sign(t, upRef, form.classic)
				s.attestSBOM(t, upRef, form.classic)
			}
			dir := supplyRepo(t, upstream, target, "")
			run(t, dir, 0, "lock")
			l := loadLock(t, filepath.Join(dir, "images.lock"))
			for _, ref := range []string{"docker.io/signed/single:1", "docker.io/signed/multi:1"} {
				checkPinnedReferrers(t, lockedImage(t, l, ref), form.via, digests[ref])
			}
			checkNoSupply(t, dir, lockedImage(t, l, "docker.io/plain/unsigned:1"))

			r := run(t, dir, 0, "plan")
			// Sorted by source: plain/unsigned, then the two signed images.
			if lines := planLines(r.stdout, "+"); len(lines) != 3 || strings.Contains(lines[0], "(") ||
				!strings.HasSuffix(lines[1], "(+1 signature, +1 SBOM)") || !strings.HasSuffix(lines[2], "(+1 signature, +1 SBOM)") {
				t.Errorf("plan:\n%s", r.stdout)
			}
			run(t, dir, 0, "apply", "--auto-approve")
			for _, ref := range []string{"signed/single", "signed/multi"} {
				onTarget := target + "/mirror/" + ref + "@" + digests["docker.io/"+ref+":1"]
				if out, err := s.verify(onTarget); err != nil {
					t.Errorf("cosign verify %s: %v\n%s", onTarget, err, out)
				}
				if out, err := s.verifyAttestation(onTarget); err != nil {
					t.Errorf("cosign verify-attestation %s: %v\n%s", onTarget, err, out)
				}
			}
			run(t, dir, 0, "verify", "--deep")
			if r := run(t, dir, 0, "plan"); !strings.Contains(r.stdout, "No changes.") {
				t.Errorf("plan after apply:\n%s", r.stdout)
			}
			if r := run(t, dir, 0, "lock"); !strings.Contains(r.stdout, "is up to date") {
				t.Errorf("lock after apply:\n%s", r.stdout)
			}
		})
	}
}

// checkPinnedReferrers checks that a signed image's lock block pins one signature
// and one SBOM attached to its digest.
func checkPinnedReferrers(t *testing.T, img *lock.Image, via referrers.Via, d string) {
	t.Helper()
	counts := referrers.Count(img.Referrers)
	if len(img.Referrers) != 2 || counts[referrers.Signature] != 1 || counts[referrers.SBOM] != 1 {
		t.Fatalf("%s pins %+v, want a signature and an SBOM", img.Ref, img.Referrers)
	}
	for _, a := range img.Referrers {
		if a.Via != via || a.Subject.String() != d || (via == referrers.ViaTag) != (a.Tag != "") {
			t.Errorf("%s: %+v, want via %s on %s", img.Ref, a, via, d)
		}
	}
}

// checkNoSupply checks that an image without referrers is locked as locks
// always had it.
func checkNoSupply(t *testing.T, dir string, img *lock.Image) {
	t.Helper()
	src := readFile(t, filepath.Join(dir, "images.lock"))
	start := strings.Index(src, `image "`+img.Ref.String()+`"`)
	block := src[start : start+strings.Index(src[start:], "\n}\n")]
	for _, attr := range []string{"referrer", "platform_mode", "mirrored_platforms", "target_digest"} {
		if strings.Contains(block, attr) {
			t.Errorf("the block of %s has %s:\n%s", img.Ref, attr, block)
		}
	}
}

// TestSupplyUpgrade: a signature added upstream after the lock is picked
// up by lock --upgrade only, planned as a referrers change of an image in
// place and applied without copying the image again.
func TestSupplyUpgrade(t *testing.T) {
	s := newSigner(t)
	up, tg := testregistry.StartT(t), testregistry.StartT(t)
	digests := pushSupplyImages(t, up.Host())
	dir := supplyRepo(t, up.Host(), tg.Host(), "")
	run(t, dir, 0, "lock")
	run(t, dir, 0, "apply", "--auto-approve")
	before := readFile(t, filepath.Join(dir, "images.lock"))

	multi := up.Host() + "/signed/multi@" + digests["docker.io/signed/multi:1"]
	amd := childDigest(t, multi, "amd64")
	s.sign(t, up.Host()+"/signed/multi@"+amd, false)
	if r := run(t, dir, 0, "lock"); !strings.Contains(r.stdout, "is up to date") || readFile(t, filepath.Join(dir, "images.lock")) != before {
		t.Fatalf("plain lock asked for referrers of unchanged digests:\n%s", r.stdout)
	}
	r := run(t, dir, 0, "lock", "--upgrade")
	if !strings.Contains(r.stdout, "~ image docker.io/signed/multi:1: referrers +1 signature") {
		t.Errorf("lock --upgrade:\n%s", r.stdout)
	}
	r = run(t, dir, 0, "plan")
	if lines := planLines(r.stdout, "~"); len(lines) != 1 || !strings.Contains(lines[0], "signed/multi:1") || !strings.HasSuffix(lines[0], "(+1 signature)") ||
		!strings.Contains(r.stdout, "Plan: 0 to create, 0 to update, 1 with referrers to copy, 2 unchanged.") {
		t.Errorf("plan:\n%s", r.stdout)
	}
	childOnTarget := tg.Host() + "/mirror/signed/multi@" + amd
	if out, err := s.verify(childOnTarget); err == nil {
		t.Fatalf("cosign verified the child on the target before its signature was copied:\n%s", out)
	}
	mark := len(requests(t, tg))
	run(t, dir, 0, "apply", "--auto-approve")
	for _, w := range writes(requestsSince(t, tg, mark)) {
		if strings.HasSuffix(w, "/manifests/1") {
			t.Errorf("the image was written again: %s", w)
		}
	}
	if out, err := s.verify(childOnTarget); err != nil {
		t.Errorf("cosign verify of the child on the target: %v\n%s", err, out)
	}
	run(t, dir, 0, "verify")
}

// TestPlatformModes mirrors the amd64 platform of two-platform indexes:
// filter writes a new index (a new digest in the lock) that pulls by
// digest without arm64 and keeps the amd64 child's own signature; sparse
// keeps the index's digest and signature where the registry accepts an
// index whose children are missing, and fails naming filter where it
// refuses it, while the other images land.
func TestPlatformModes(t *testing.T) {
	s := newSigner(t)
	up := testregistry.StartT(t)
	digests := pushSupplyImages(t, up.Host())
	multi := up.Host() + "/signed/multi@" + digests["docker.io/signed/multi:1"]
	amd := childDigest(t, multi, "amd64")
	s.sign(t, multi, false)
	s.sign(t, up.Host()+"/signed/multi@"+amd, false)
	plain := up.Host() + "/plain/unsigned@" + digests["docker.io/plain/unsigned:1"]
	plainARM := childDigest(t, plain, "arm64")
	s.sign(t, plain, false)
	choice := `image "docker.io/signed/multi:1" {
  platforms = ["linux/amd64"]
}
image "docker.io/plain/unsigned:1" {
  platforms     = ["linux/amd64"]
  platform_mode = "sparse"
}
`
	t.Run("filter, and sparse refused", func(t *testing.T) {
		tg := testregistry.StartT(t) // validates that an index's children are present
		dir := supplyRepo(t, up.Host(), tg.Host(), choice)
		run(t, dir, 0, "lock")
		l := loadLock(t, filepath.Join(dir, "images.lock"))
		img := lockedImage(t, l, "docker.io/signed/multi:1")
		if img.FilteredDigest == "" || img.TargetDigest() == img.Digest || strings.Join(img.MirroredPlatforms, ",") != "linux/amd64" ||
			len(img.Referrers) != 1 || img.Referrers[0].Subject.String() != amd {
			t.Fatalf("filtered image locked as %+v", img)
		}
		r := run(t, dir, 1, "apply", "--auto-approve")
		if !strings.Contains(r.stdout, "refused the sparse index of docker.io/plain/unsigned:1") ||
			!strings.Contains(r.stdout, `platform_mode = "filter"`) || !strings.Contains(r.stdout, "Apply failed for 1 of 3 images") {
			t.Errorf("apply:\n%v", r)
		}
		target := tg.Host() + "/mirror/signed/multi"
		if got := headDigest(t, target+":1"); got != img.TargetDigest().String() {
			t.Errorf("the tag resolves to %s, want the locked target_digest %s", got, img.TargetDigest())
		}
		pullByDigest(t, target+"@"+img.TargetDigest().String())
		if im := indexOf(t, target+"@"+img.TargetDigest().String()); len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != amd {
			t.Errorf("the filtered index lists %+v", im.Manifests)
		}
		if d := headDigest(t, target+"@"+childDigest(t, multi, "arm64")); d != "" {
			t.Errorf("the arm64 child is in the target")
		}
		if out, err := s.verify(target + "@" + amd); err != nil {
			t.Errorf("cosign verify of the amd64 child on the target: %v\n%s", err, out)
		}
		if got := headDigest(t, tg.Host()+"/mirror/signed/single:1"); got != digests["docker.io/signed/single:1"] {
			t.Errorf("the single image did not land: %q", got)
		}
	})
	t.Run("sparse accepted", func(t *testing.T) {
		tg := testregistry.StartT(t, testregistry.WithIndexValidation("none"))
		dir := supplyRepo(t, up.Host(), tg.Host(), choice)
		run(t, dir, 0, "lock")
		run(t, dir, 0, "apply", "--auto-approve")
		target := tg.Host() + "/mirror/plain/unsigned"
		if got := headDigest(t, target+":1"); got != digests["docker.io/plain/unsigned:1"] {
			t.Errorf("the sparse index has digest %s, want upstream's %s", got, digests["docker.io/plain/unsigned:1"])
		}
		if d := headDigest(t, target+"@"+plainARM); d != "" {
			t.Errorf("the arm64 child is in the target")
		}
		if out, err := s.verify(target + "@" + digests["docker.io/plain/unsigned:1"]); err != nil {
			t.Errorf("cosign verify of the sparse index on the target: %v\n%s", err, out)
		}
		run(t, dir, 0, "verify", "--deep")
		if r := run(t, dir, 0, "plan"); !strings.Contains(r.stdout, "No changes.") {
			t.Errorf("plan after apply:\n%s", r.stdout)
		}
	})
}

// pullByDigest reads an image index and every blob of its images from a
// loopback registry, as a pull by digest does.
func pullByDigest(t *testing.T, ref string) {
	t.Helper()
	idx, err := remote.Index(parseRef(t, ref))
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatalf("pull %s child %s: %v", ref, desc.Digest, err)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			rc, err := l.Compressed()
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			if err != nil {
				t.Errorf("pull %s: layer of %s: %v", ref, desc.Digest, err)
			}
		}
	}
}

package fakeupstream

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Golden digests: if one changes, every pinned lockfile in the end-to-end
// tests and the demo goes stale, so a change must be deliberate.
// goldenNginx pins the generated nginx:1.27-alpine: its index and, through
// it, both platform images. Nothing of the machine goes into the bytes, so
// the digest is the same on every machine and Go version.
const goldenNginx = "sha256:74b17190d0305988bb8e5d390d4bc40e0d4a3c44a511f321578480011af3882c"

func mustBuild(t *testing.T, img Image) *Built {
	t.Helper()
	b, err := Build(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// platformImage is the image of one platform of b, or b's single image.
func platformImage(t *testing.T, b *Built, i int) v1.Image {
	t.Helper()
	if b.Image != nil {
		return b.Image
	}
	im, err := b.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := b.Index.Image(im.Manifests[i].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		out = append(out, digestOf(t, l))
	}
	return out
}

func TestDeterministic(t *testing.T) {
	for _, img := range Seed() {
		a, b := mustBuild(t, img), mustBuild(t, img)
		ma, _ := a.RawManifest()
		mb, _ := b.RawManifest()
		if !bytes.Equal(ma, mb) {
			t.Errorf("%s: manifests differ between two builds", img.Ref)
		}
		for i := range img.Platforms {
			ca, _ := platformImage(t, a, i).RawConfigFile()
			cb, _ := platformImage(t, b, i).RawConfigFile()
			if !bytes.Equal(ca, cb) {
				t.Errorf("%s %s: configs differ between two builds", img.Ref, img.Platforms[i])
			}
		}
	}
	seed := Seed()
	if got := digestOf(t, mustBuild(t, seed[0])); got != goldenNginx {
		t.Errorf("%s digest = %s, golden %s", seed[0].Ref, got, goldenNginx)
	}
}

func TestGenerationMovesTagKeepsBase(t *testing.T) {
	img := Seed()[0]
	moved := img
	moved.Generation = 1
	a, b := mustBuild(t, img), mustBuild(t, moved)
	if digestOf(t, a) == digestOf(t, b) {
		t.Fatal("Generation 1 has the same index digest as generation 0")
	}
	for i, p := range img.Platforms {
		la, lb := layerDigests(t, platformImage(t, a, i)), layerDigests(t, platformImage(t, b, i))
		if len(la) != 2 || len(lb) != 2 {
			t.Fatalf("%s: layers %v and %v, want base + own", p, la, lb)
		}
		if la[0] != lb[0] {
			t.Errorf("%s: base layer changed with Generation: %s -> %s", p, la[0], lb[0])
		}
		if la[1] == lb[1] {
			t.Errorf("%s: own layer unchanged by Generation", p)
		}
	}
}

func TestBaseLayerShared(t *testing.T) {
	byRef := map[string]Image{}
	for _, img := range Seed() {
		byRef[img.Ref] = img
	}
	nginx := mustBuild(t, byRef["docker.io/library/nginx:1.27-alpine"])
	postgres := mustBuild(t, byRef["docker.io/library/postgres:15-alpine"])
	proxy := mustBuild(t, byRef["docker.io/tecnativa/tcp-proxy:latest"]) // Docker format
	alpine := mustBuild(t, byRef["docker.io/library/alpine:latest"])     // arm64/v8
	minio := mustBuild(t, byRef["quay.io/minio/minio:latest"])

	first := func(b *Built, i int) string { return layerDigests(t, platformImage(t, b, i))[0] }
	second := func(b *Built, i int) string { return layerDigests(t, platformImage(t, b, i))[1] }
	for i, p := range []string{"amd64", "arm64"} {
		if first(nginx, i) != first(postgres, i) || first(nginx, i) != first(proxy, i) || first(nginx, i) != first(alpine, i) {
			t.Errorf("%s: alpine base layers differ: %s %s %s %s",
				p, first(nginx, i), first(postgres, i), first(proxy, i), first(alpine, i))
		}
		if second(nginx, i) == second(postgres, i) {
			t.Errorf("%s: nginx and postgres share their own layer", p)
		}
		if first(nginx, i) == first(minio, i) {
			t.Errorf("%s: alpine and ubi bases are the same layer", p)
		}
	}
	if first(nginx, 0) == first(nginx, 1) {
		t.Error("amd64 and arm64 share the base layer")
	}
}

func TestMediaTypesAndPlatforms(t *testing.T) {
	for _, img := range Seed() {
		b := mustBuild(t, img)
		want := mediaTypesOf(img.Format)
		mt, _ := b.MediaType()
		if img.Single && mt != want.manifest || !img.Single && mt != want.index {
			t.Errorf("%s: media type %s", img.Ref, mt)
		}
		for i, ps := range img.Platforms {
			child := platformImage(t, b, i)
			if mt, _ := child.MediaType(); mt != want.manifest {
				t.Errorf("%s %s: manifest media type %s, want %s", img.Ref, ps, mt, want.manifest)
			}
			m, err := child.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.Config.MediaType != want.config || m.Layers[0].MediaType != want.layer {
				t.Errorf("%s %s: config %s, layer %s", img.Ref, ps, m.Config.MediaType, m.Layers[0].MediaType)
			}
			cf, err := child.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if got := cf.Platform().String(); got != ps {
				t.Errorf("%s: config platform %s, want %s", img.Ref, got, ps)
			}
			if b.Index != nil {
				im, _ := b.Index.IndexManifest()
				if got := im.Manifests[i].Platform.String(); got != ps {
					t.Errorf("%s: index platform %d is %s, want %s", img.Ref, i, got, ps)
				}
				if at := im.Manifests[i].ArtifactType; at != "" {
					t.Errorf("%s %s: index descriptor has artifactType %q, real images have none", img.Ref, ps, at)
				}
			}
		}
	}
}

func TestLayerContents(t *testing.T) {
	img := Image{Ref: "docker.io/library/busybox:big", Platforms: []string{"linux/amd64"}, Single: true, LayerSize: 1 << 20}
	ls, err := mustBuild(t, img).Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 {
		t.Fatalf("%d layers without a Base, want 1", len(ls))
	}
	size, _ := ls[0].Size()
	if size < 1<<20 || size > 1<<20+4<<10 {
		t.Errorf("layer size %d, want LayerSize plus framing", size)
	}
	rc, _ := ls[0].Uncompressed()
	tarBytes, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if diffID, _ := ls[0].DiffID(); diffID.Hex != fmt.Sprintf("%x", sha256.Sum256(tarBytes)) {
		t.Errorf("DiffID %s is not the SHA-256 of the tar", diffID)
	}
	// Incompressible, like real binaries: gzip at its best barely helps.
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(tarBytes)
	_ = zw.Close()
	if buf.Len() < len(tarBytes)*99/100 {
		t.Errorf("layer compresses from %d to %d bytes", len(tarBytes), buf.Len())
	}
}

func TestStoredGzip(t *testing.T) {
	for _, n := range []int{0, 1, 65534, 65535, 65536, 3*65535 + 7} {
		data := randomBytes(int64(n), "test", fmt.Sprint(n))
		zr, err := gzip.NewReader(bytes.NewReader(storedGzip(data)))
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("n=%d: reading: %v", n, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("n=%d: round trip changed the data", n)
		}
	}
}

func TestSeed(t *testing.T) {
	seed := Seed()
	if len(seed) != 15 {
		t.Fatalf("%d images, want 15", len(seed))
	}
	refs := map[string]bool{}
	formats := map[Format]bool{}
	for _, img := range seed {
		if refs[img.Ref] {
			t.Errorf("duplicate %s", img.Ref)
		}
		refs[img.Ref], formats[img.Format] = true, true
		b := mustBuild(t, img)
		if total := builtSize(t, b, len(img.Platforms)); total > 3<<20 {
			t.Errorf("%s: %d bytes in all; keep the catalogue small", img.Ref, total)
		}
	}
	if !formats[OCI] || !formats[Docker] {
		t.Errorf("formats used: %v; want both", formats)
	}
	if got := Domains(seed); !slices.Equal(got, []string{"docker.io", "quay.io"}) {
		t.Errorf("Domains = %v", got)
	}
	seed[0].Ref, seed[0].Platforms[0] = "changed", "changed"
	if again := Seed(); again[0].Ref == "changed" || again[0].Platforms[0] == "changed" {
		t.Error("Seed shares state between calls")
	}
}

// builtSize adds up the blobs of all platforms of b.
func builtSize(t *testing.T, b *Built, platforms int) int64 {
	var total int64
	for i := range platforms {
		img := platformImage(t, b, i)
		ls, _ := img.Layers()
		for _, l := range ls {
			n, _ := l.Size()
			total += n
		}
	}
	return total
}

func TestBuildErrors(t *testing.T) {
	bad := []Image{
		{Ref: "Not A Ref", Platforms: []string{"linux/amd64"}},
		{Ref: "docker.io/library/x:1"},
		{Ref: "docker.io/library/x:1", Platforms: []string{"linux/amd64", "linux/arm64"}, Single: true},
		{Ref: "docker.io/library/x:1", Platforms: []string{""}},
	}
	for _, img := range bad {
		if _, err := Build(img); err == nil {
			t.Errorf("Build(%+v) succeeded", img)
		}
	}
}

func TestFormatString(t *testing.T) {
	if OCI.String() != "OCI" || Docker.String() != "Docker" || Format(9).String() != "Format(9)" {
		t.Error("Format.String")
	}
	if types.OCIImageIndex != mediaTypesOf(OCI).index {
		t.Error("OCI index media type")
	}
}

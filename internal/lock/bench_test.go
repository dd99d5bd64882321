package lock

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/imageref"
)

// benchLock is a lock of n mirrored images, two platforms and two sources
// each, plus n/10 builds, given in reverse order so that Format sorts too.
func benchLock(n int) *Lock {
	l := &Lock{}
	for i := n - 1; i >= 0; i-- {
		ref := imageref.MustParse(fmt.Sprintf("docker.io/bench/image-%04d:v1", i))
		l.Images = append(l.Images, Image{
			Ref:       ref,
			Digest:    dg(ref.String()),
			MediaType: "application/vnd.oci.image.index.v1+json",
			Platforms: []string{"linux/arm64", "linux/amd64"},
			Target:    imageref.MustParse(fmt.Sprintf("reg.example.com/mirror/bench/image-%04d:v1", i)),
			Sources: []string{
				fmt.Sprintf("services/svc-%04d/Dockerfile#FROM 0", i),
				fmt.Sprintf("docker-compose.yml#services.svc-%04d.image", i),
			},
		})
	}
	for i := n/10 - 1; i >= 0; i-- {
		l.Builds = append(l.Builds, Build{
			Ref:        imageref.MustParse(fmt.Sprintf("docker.io/library/app-%03d:v1", i)),
			Services:   []string{fmt.Sprintf("app-%03d", i)},
			Context:    fmt.Sprintf("apps/app-%03d", i),
			Dockerfile: fmt.Sprintf("apps/app-%03d/Dockerfile", i),
			Bases:      []imageref.Ref{imageref.MustParse(fmt.Sprintf("docker.io/bench/image-%04d:v1", i))},
			Target:     imageref.MustParse(fmt.Sprintf("reg.example.com/mirror/app-%03d:v1", i)),
			Inputs:     dg(fmt.Sprintf("inputs-%d", i)),
		})
	}
	return l
}

// BenchmarkFormat renders the images.lock of 1,000 images and 100 builds,
// what `imagesync lock` writes and `lock --check` compares.
func BenchmarkFormat(b *testing.B) {
	l := benchLock(1000)
	out := Format(l)
	// The rendering must round-trip, or the benchmark measures nothing
	// useful.
	back, diags := Parse(hclparse.NewParser(), "images.lock", out)
	if diags.HasErrors() || len(back.Images) != 1000 || len(back.Builds) != 100 {
		b.Fatalf("rendered lock does not parse back: %d images, %d builds, %v", len(back.Images), len(back.Builds), diags)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if got := Format(l); !bytes.Equal(got, out) {
			b.Fatal("Format is not deterministic")
		}
	}
}

// BenchmarkParse reads the same 1,000-image lock back, as every plan,
// apply and lock --check does.
func BenchmarkParse(b *testing.B) {
	src := Format(benchLock(1000))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Parse(hclparse.NewParser(), "images.lock", src); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

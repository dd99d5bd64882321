package view

import (
	"fmt"
	"io"
	"testing"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
)

// benchPlan is a plan of n images: a third to create, a third to update,
// the rest unchanged.
func benchPlan(n int) *diff.Plan {
	p := &diff.Plan{LockSHA256: dg("lock")}
	for i := range n {
		c := diff.Change{
			Kind:      diff.KindImage,
			Source:    imageref.MustParse(fmt.Sprintf("docker.io/bench/image-%04d:v1", i)),
			Target:    imageref.MustParse(fmt.Sprintf("reg.example.com/mirror/bench/image-%04d:v1", i)),
			Digest:    dg(fmt.Sprintf("image-%d", i)),
			MediaType: "application/vnd.oci.image.index.v1+json",
			Platforms: []string{"linux/amd64", "linux/arm64"},
		}
		switch i % 3 {
		case 0:
			c.Action = diff.Create
			p.Summary.Create++
		case 1:
			c.Action, c.CurrentDigest = diff.Update, dg(fmt.Sprintf("old-%d", i))
			p.Summary.Update++
		default:
			c.Action, c.CurrentDigest = diff.NoOp, c.Digest
			p.Summary.Unchanged++
		}
		p.Changes = append(p.Changes, c)
	}
	return p
}

// BenchmarkWritePlan renders a plan of 1,000 changes as text (verbose, so
// that every line is written) and as JSON, as `plan` and `plan --json` do.
func BenchmarkWritePlan(b *testing.B) {
	p := benchPlan(1000)
	b.Run("text", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := WritePlan(io.Discard, p, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := WritePlanJSON(io.Discard, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

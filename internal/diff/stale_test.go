package diff

import (
	"context"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/referrers"
)

// TestCheckStaleLanded: a saved plan whose image has since landed is done,
// for a filtered index by its target digest, and an image locked with
// referrers goes on to copy them.
func TestCheckStaleLanded(t *testing.T) {
	filtered := Change{Kind: KindImage, Action: Create, Source: imageref.MustParse("nginx:1"),
		Target: imageref.MustParse("reg.example.com/aim/nginx:1"), Digest: dg("index"), FilteredDigest: dg("amd64 only")}
	signed := Change{Kind: KindImage, Action: Create, Source: imageref.MustParse("redis:7"),
		Target: imageref.MustParse("reg.example.com/aim/redis:7"), Digest: dg("redis"),
		Referrers: []referrers.Artifact{{Digest: dg("sig"), Subject: dg("redis")}}}
	for _, tc := range []struct {
		name   string
		change Change
		now    digest.Digest
		want   Action
		stale  bool
	}{
		{"filtered index landed", filtered, dg("amd64 only"), NoOp, false},
		{"unfiltered digest is not the goal", filtered, dg("index"), "", true},
		{"landed, referrers still to copy", signed, dg("redis"), Referrers, false},
		{"moved elsewhere", signed, dg("other"), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := &fakeTarget{tags: map[string]digest.Digest{tc.change.Target.String(): tc.now}}
			p := &Plan{LockSHA256: dg("lock"), Changes: []Change{tc.change}}
			p.Summary = summarize(p.Changes)
			err := CheckStale(context.Background(), p, dg("lock"), target)
			if (err != nil) != tc.stale {
				t.Fatalf("stale = %v, want %v", err, tc.stale)
			}
			if !tc.stale && (p.Changes[0].Action != tc.want || p.Changes[0].CurrentDigest != tc.now) {
				t.Errorf("change = %s current %s, want %s", p.Changes[0].Action, p.Changes[0].CurrentDigest, tc.want)
			}
		})
	}
}

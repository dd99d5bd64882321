package view

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

// fixtureUpstream is upstream as the review golden sees it: nginx's tag
// points at another digest than the lock's (a hand-edited lock, or a tag
// that moved), redis's at the locked one, minio's registry cannot be
// reached, and the extra image's tag is gone.
type fixtureUpstream struct{ locked *lock.Lock }

func (u fixtureUpstream) Resolve(_ context.Context, ref imageref.Ref) (registry.Head, error) {
	switch ref.Path() {
	case "library/nginx":
		return registry.Head{Digest: dg("nginx upstream now")}, nil
	case "minio/minio":
		return registry.Head{}, errors.New("quay.io: connection refused\n::error::not from us")
	case "library/extra":
		return registry.Head{}, fmt.Errorf("HEAD: %w", registry.ErrNotFound)
	}
	return registry.Head{Digest: u.locked.Image(ref).Digest}, nil
}

// reviewPlan is diff.Make's plan of testdata/fixture-supply.lock, with an
// image an image block sends to another registry host, asked upstream.
func reviewPlan(t testing.TB) *diff.Plan {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "fixture-supply.lock"))
	if err != nil {
		t.Fatal(err)
	}
	src = append(src, []byte(`
image "docker.io/library/extra:1" {
  digest     = "`+dg("extra").String()+`"
  media_type = "application/vnd.oci.image.manifest.v1+json"
  target     = "ghcr.io/aim/extra:1"
  platforms  = ["linux/amd64"]
  sources    = ["images.hcl#image.docker.io/library/extra:1"]
}
`)...)
	l, diags := lock.Parse(hclparse.NewParser(), "fixture-supply.lock", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, err := diff.Make(context.Background(), l, digest.FromBytes(src), supplyTarget{}, diff.Options{Upstream: fixtureUpstream{l}, Referrers: supplyTarget{}})
	if err != nil {
		t.Fatal(err)
	}
	p.TargetRegistry = "reg.example.com/aim" // as workspace sets it from images.hcl
	return p
}

// TestPlanReview: issue 19 cases 6, 7, 9. The unusual digest with both
// digests, the tags upstream could not tell, the target outside
// target.registry's host on a line of its own, and every tag apply
// writes, in text, markdown and JSON.
func TestPlanReview(t *testing.T) {
	p := reviewPlan(t)
	var text, md, js bytes.Buffer
	if err := WritePlan(&text, p, false); err != nil {
		t.Fatal(err)
	}
	if err := WritePlanMarkdown(&md, p, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WritePlanJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan-review.txt", text.Bytes())
	golden(t, "plan-review.md", md.Bytes())
	golden(t, "plan-review.json", js.Bytes())
	for sink, out := range map[string]string{"text": text.String(), "markdown": md.String(), "json": js.String()} {
		checkTerminal(t, sink, out)
		for _, want := range []string{dg("nginx upstream now").String(), "5be1ecc7935f", "ghcr.io/aim/extra:1",
			"sha256-42de49d302127345f707bb48515f5318bc4f4f88e9dbec069926913f47d909f5.sig"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", sink, want)
			}
		}
	}
	back, err := diff.DecodePlan(bytes.NewReader(js.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if c := changeOf(t, back, "docker.io/library/nginx:1.27-alpine"); !c.Unusual() {
		t.Errorf("the JSON plan lost the unusual digest: %+v", c.Upstream)
	}
}

// TestLockCheckOnline: `lock --check --online` on the supply fixture: the
// unusual nginx digest with both digests, minio that could not be asked,
// in text, markdown and JSON; a lock whose tags all match says so.
func TestLockCheckOnline(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "fixture-supply.lock"))
	if err != nil {
		t.Fatal(err)
	}
	l, diags := lock.Parse(hclparse.NewParser(), "fixture-supply.lock", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	found, err := diff.CheckLockUpstream(context.Background(), l, fixtureUpstream{l})
	if err != nil {
		t.Fatal(err)
	}
	check := LockCheck{LockName: "images.lock", Lock: l, Online: true, Upstream: found}
	var text, md, js bytes.Buffer
	if err := WriteLockUpToDate(&text, "images.lock", l); err != nil {
		t.Fatal(err)
	}
	if err := WriteLockUpstream(&text, l, found); err != nil {
		t.Fatal(err)
	}
	if err := WriteLockCheckMarkdown(&md, check, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteLockCheckJSON(&js, check); err != nil {
		t.Fatal(err)
	}
	golden(t, "lock-check-online.txt", text.Bytes())
	golden(t, "lock-check-online.md", md.Bytes())
	golden(t, "lock-check-online.json", js.Bytes())
	if got := UpstreamProblems(found); got != "1 locked digest is not what its tag points at upstream now, and 1 tag could not be checked" {
		t.Errorf("UpstreamProblems = %q", got)
	}
	var ok bytes.Buffer
	if err := WriteLockUpstream(&ok, l, nil); err != nil || ok.String() != "Upstream: every tag of the lock (4) points at its locked digest.\n" {
		t.Errorf("no problems: %q, %v", ok.String(), err)
	}
}

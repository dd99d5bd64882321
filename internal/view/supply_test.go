package view

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/workspace"
)

// supplyTarget is fixtureTarget that lists alpine's signature, and not
// its SBOM, as referrers.
type supplyTarget struct{ fixtureTarget }

func (supplyTarget) TargetReferrers(_ context.Context, _ imageref.Ref, subject digest.Digest) (registry.ReferrerList, error) {
	var list registry.ReferrerList
	if subject == dg("alpine") {
		list.Descriptors = []v1.Descriptor{{Digest: v1.Hash{Algorithm: "sha256", Hex: dg("alpine-sig").Encoded()}}}
	}
	return list, nil
}

func (supplyTarget) TargetHasManifest(_ context.Context, _ imageref.Ref, tag string) (digest.Digest, error) {
	return "", fmt.Errorf("HEAD %s: %w", tag, registry.ErrNotFound)
}

// supplyPlan is diff.Make's plan of testdata/fixture-supply.lock: nginx
// filtered to amd64 and signed, to create; redis sparse, to update;
// alpine in place without its SBOM; minio as in every plan.
func supplyPlan(t *testing.T) *diff.Plan {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "fixture-supply.lock"))
	if err != nil {
		t.Fatal(err)
	}
	l, diags := lock.Parse(hclparse.NewParser(), "fixture-supply.lock", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, err := diff.Make(context.Background(), l, digest.FromBytes(src), supplyTarget{}, diff.Options{Referrers: supplyTarget{}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlanSupply(t *testing.T) {
	p := supplyPlan(t)
	var buf bytes.Buffer
	if err := WritePlan(&buf, p, false); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan-supply.txt", buf.Bytes())
	buf.Reset()
	if err := WritePlanJSON(&buf, p); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan-supply.json", buf.Bytes())
}

func TestApplySummaryReferrers(t *testing.T) {
	p := supplyPlan(t)
	nginx := changeOf(t, p, "docker.io/library/nginx:1.27-alpine")
	results := []apply.Result{
		{Change: changeOf(t, p, "docker.io/library/alpine:latest"), ReferrersCopied: 1, Duration: 100 * time.Millisecond},
		{Change: nginx, BytesUploaded: 3 << 20, BlobsUploaded: 3, ReferrersCopied: 2, Duration: time.Second,
			ReferrerFailures: []apply.ReferrerFailure{{Artifact: nginx.Referrers[2],
				Err: errors.New("the target refused the artifact (application/vnd.dev.cosign.simplesigning.v1+json): MANIFEST_INVALID")}}},
	}
	var buf bytes.Buffer
	if err := WriteApplySummary(&buf, &workspace.ApplyResult{Results: results, Unchanged: 1}); err != nil {
		t.Fatal(err)
	}
	golden(t, "apply-referrers.txt", buf.Bytes())
}

func TestLineProgressReferrers(t *testing.T) {
	p := supplyPlan(t)
	var buf bytes.Buffer
	lp := NewLineProgress(&buf)
	alpine, nginx := changeOf(t, p, "docker.io/library/alpine:latest"), changeOf(t, p, "docker.io/library/nginx:1.27-alpine")
	lp.Started(alpine)
	lp.Finished(apply.Result{Change: alpine, ReferrersCopied: 1, Duration: 100 * time.Millisecond})
	lp.Started(nginx)
	lp.Finished(apply.Result{Change: nginx, BytesUploaded: 2048, ReferrersCopied: 2, Duration: time.Second,
		ReferrerFailures: []apply.ReferrerFailure{{Artifact: nginx.Referrers[2], Err: errors.New("refused")}}})
	golden(t, "progress-referrers.txt", buf.Bytes())
}

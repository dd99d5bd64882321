package workspace

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
)

// TestReviewWithoutCredentials: a target that answers 401 to a client
// without credentials, as a private registry does to a pull request from
// a fork. Without --base-lock the error names it; with it, images.lock is
// compared with the base lock, the plan says so, and apply refuses the
// saved plan.
func TestReviewWithoutCredentials(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="private"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := repo(t, `target { registry = "`+host+`/team" }`+"\n")
	redis := imageref.MustParse("redis:7")
	img := lock.Image{Ref: redis, Digest: digest.FromString("redis-new"), MediaType: "application/vnd.oci.image.index.v1+json",
		Platforms: []string{"linux/amd64"}, Target: imageref.MustParse(host + "/team/redis:7"), Sources: []string{"compose.yaml#services.cache.image"}}
	cur := &lock.Lock{Images: []lock.Image{img}}
	if err := lock.WriteFile(filepath.Join(dir, "images.lock"), lock.Format(cur)); err != nil {
		t.Fatal(err)
	}
	old := img
	old.Digest = digest.FromString("redis-old")
	base := filepath.Join(dir, "base.lock")
	if err := lock.WriteFile(base, lock.Format(&lock.Lock{Images: []lock.Image{old}})); err != nil {
		t.Fatal(err)
	}
	open := func() *Workspace {
		w, err := Open(Options{ConfigFile: filepath.Join(dir, "images.hcl")})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	ctx := t.Context()

	if _, err := open().Review(ctx, ReviewOptions{}); err == nil || !strings.Contains(err.Error(), "--base-lock FILE") ||
		!strings.Contains(err.Error(), "no credentials for "+host) {
		t.Errorf("without --base-lock: %v", err)
	}

	out := filepath.Join(dir, "plan.json")
	p, err := open().Review(ctx, ReviewOptions{PlanOptions: PlanOptions{Out: out}, BaseLock: base})
	if err != nil {
		t.Fatal(err)
	}
	if p.NotCompared == nil || p.NotCompared.BaseLock != base || !strings.Contains(p.NotCompared.Reason, host) {
		t.Errorf("not compared: %+v", p.NotCompared)
	}
	if len(p.Changes) != 1 || p.Changes[0].Action != diff.Update || p.Changes[0].CurrentDigest != old.Digest {
		t.Errorf("changes %+v", p.Changes)
	}
	// Nothing checked on the target, the pulls still counted.
	if pf := p.Preflight; pf == nil || pf.Checked || len(pf.Targets) != 0 || len(pf.Pulls) != 1 || pf.Pulls[0].Pulls != 2 {
		t.Errorf("preflight %+v", p.Preflight)
	}
	if _, err := open().LoadPlan(ctx, out, diff.Shard{}); err == nil || !strings.Contains(err.Error(), "not with the target registry") {
		t.Errorf("apply of a plan that did not compare the target: %v", err)
	}

	// A base branch without images.lock: an empty file, everything new.
	if err := os.WriteFile(base, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err = open().Review(ctx, ReviewOptions{BaseLock: base, NoPreflight: true})
	if err != nil || p.Summary.Create != 1 {
		t.Errorf("against an empty lock: %+v, %v", p, err)
	}
	if _, err := open().Review(ctx, ReviewOptions{BaseLock: filepath.Join(dir, "nope.lock")}); err == nil || !strings.Contains(err.Error(), "nope.lock: no such file") {
		t.Errorf("a missing base lock: %v", err)
	}
	var diags *DiagnosticsError
	if err := os.WriteFile(base, []byte("image {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := open().Review(ctx, ReviewOptions{BaseLock: base}); !errors.As(err, &diags) {
		t.Errorf("a broken base lock: %v", err)
	}
}

package e2e

// The failures found at plan time rather than at merge (issue 13): a target
// that refuses uploads to repositories that do not exist (NAME_UNKNOWN, as
// ECR and Harbor answer), a user the registry lets pull but not push
// (DENIED), no credentials at all (a fork's pull request: the plan falls
// back to the base branch's lock). Small handlers stand in front of real
// registries for what the distribution registry does not do itself.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// front is a handler in front of a test registry: it answers the requests
// intercept takes itself, passes the others on (keeping the Host header,
// so that upload locations point back at it), adds header to manifest
// answers, and counts the manifest requests the registry answered.
type front struct {
	srv *httptest.Server

	mu        sync.Mutex
	intercept func(w http.ResponseWriter, r *http.Request) bool
	header    http.Header
	gets      int // manifest GETs the registry answered 200
	heads     int // manifest HEADs the registry answered
}

var manifestPath = regexp.MustCompile(`^/v2/.+/manifests/[^/]+$`)

func startFront(t *testing.T, backend *testregistry.Server) *front {
	t.Helper()
	u, err := url.Parse(backend.URL())
	if err != nil {
		t.Fatal(err)
	}
	f := &front{header: http.Header{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if !manifestPath.MatchString(resp.Request.URL.Path) {
			return nil
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for k, v := range f.header {
			resp.Header[k] = v
		}
		switch {
		case resp.Request.Method == http.MethodGet && resp.StatusCode == http.StatusOK:
			f.gets++
		case resp.Request.Method == http.MethodHead:
			f.heads++
		}
		return nil
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		intercept := f.intercept
		f.mu.Unlock()
		if intercept != nil && intercept(w, r) {
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *front) host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// set replaces the interception rule.
func (f *front) set(intercept func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.intercept = intercept
	f.mu.Unlock()
}

// counts are the manifest GETs and HEADs the registry answered so far.
func (f *front) counts() (gets, heads int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets, f.heads
}

// registryError answers as a registry does, with its JSON error body.
func registryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, message)
}

// isWrite reports whether r would change the registry.
func isWrite(r *http.Request) bool { return r.Method != http.MethodGet && r.Method != http.MethodHead }

// seededSource is a plain registry holding imgs, named by its host.
func seededSource(t *testing.T, imgs []fakeupstream.Image) *testregistry.Server {
	t.Helper()
	src := testregistry.StartT(t)
	if err := fakeupstream.PushAll(context.Background(), imgs, map[string]string{"docker.io": src.Host()}); err != nil {
		t.Fatal(err)
	}
	return src
}

// catalog lists a registry's repositories.
func catalog(t *testing.T, srv *testregistry.Server) []string {
	t.Helper()
	resp, err := http.Get(srv.URL() + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var c struct{ Repositories []string }
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("catalog of %s: %v: %s", srv.Host(), err, body)
	}
	return c.Repositories
}

// TestPlanPreflightMissingRepository: the target answers NAME_UNKNOWN to
// uploads into repositories under ecr/, which it does not create on push.
// plan reports them missing and exits 1, --detailed-exitcode or not,
// before any byte is pushed; the repository that is created on push is
// said so; the checks leave no repository behind.
func TestPlanPreflightMissingRepository(t *testing.T) {
	imgs := rigImages()
	src := seededSource(t, imgs)
	dst := testregistry.StartT(t)
	f := startFront(t, dst)
	f.set(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v2/mirror/ecr/") {
			registryError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
			return true
		}
		return false
	})
	r := newRig(t, src.Host(), f.host(), imgs, "")
	alpine, busybox, debian := imageOf(t, imgs, "alpine"), imageOf(t, imgs, "busybox"), imageOf(t, imgs, "debian")
	writeFile(t, filepath.Join(r.dir, "images.hcl"), fmt.Sprintf(`target {
  registry = %q
}

image %q {}
image %q {
  target = "ecr/busybox:1.36"
}
image %q {
  target = "ecr/debian:12"
}
`, f.host()+"/mirror", r.source(alpine), r.source(busybox), r.source(debian)))
	r.must(0, "lock")
	mark := len(accessLog(t, dst, 0))

	res := r.must(1, "plan", "--detailed-exitcode")
	for _, want := range []string{
		"Plan: 3 to create, 0 to update, 0 unchanged.\n",
		"Preflight of the 3 target repositories the plan writes to: 1 will be created on push, 2 missing.\n",
		"  missing             " + f.host() + "/mirror/ecr/busybox: NAME_UNKNOWN: repository name not known to registry\n",
		"  missing             " + f.host() + "/mirror/ecr/debian: NAME_UNKNOWN: repository name not known to registry\n",
		`-> create it in the registry first (on Harbor, the project "mirror"`,
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("plan lacks %q:\n%v", want, res)
		}
	}
	if want := "imagesync: apply would fail on 2 target repositories: " + f.host() + "/mirror/ecr/busybox (missing), " +
		f.host() + "/mirror/ecr/debian (missing)"; !strings.Contains(res.stderr, want) {
		t.Errorf("plan's error lacks %q:\n%v", want, res)
	}
	// Before any byte is pushed: an upload session opened and cancelled
	// in the repository that is created on push, nothing else written.
	var sessions []string
	for _, w := range writes(accessLog(t, dst, mark)) {
		if !strings.HasPrefix(w, "POST /v2/mirror/library/alpine/blobs/uploads/") && !strings.HasPrefix(w, "DELETE /v2/mirror/library/alpine/blobs/uploads/") {
			t.Errorf("plan wrote %s", w)
		}
		sessions = append(sessions, w)
	}
	if len(sessions) != 2 {
		t.Errorf("plan's writes %v, want one upload session opened and cancelled", sessions)
	}
	if repos := catalog(t, dst); len(repos) != 0 {
		t.Errorf("the target lists repositories after plan: %v", repos)
	}

	// The same in JSON, for programs.
	res = r.must(1, "plan", "--format", "json")
	var doc struct {
		Preflight struct {
			Checked bool
			Targets []struct{ Repository, Status, Detail string }
		}
	}
	if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil {
		t.Fatalf("plan --format json: %v\n%v", err, res)
	}
	statuses := map[string]string{}
	for _, c := range doc.Preflight.Targets {
		statuses[strings.TrimPrefix(c.Repository, f.host()+"/mirror/")] = c.Status
	}
	if want := map[string]string{"library/alpine": "will be created on push", "ecr/busybox": "missing", "ecr/debian": "missing"}; !doc.Preflight.Checked ||
		fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("JSON preflight %v, want %v", statuses, want)
	}

	// --no-preflight: no check, the plan's own exit code.
	mark = len(accessLog(t, dst, 0))
	res = r.must(2, "plan", "--detailed-exitcode", "--no-preflight")
	if strings.Contains(res.stdout, "Preflight") || len(writes(accessLog(t, dst, mark))) != 0 {
		t.Errorf("plan --no-preflight checked the target:\n%v", res)
	}
}

// TestPlanPreflightNoPushPermission: an htpasswd registry lets every valid
// user do everything, so a handler in front of it refuses the writes of
// one user (DENIED), as registries with per-user permissions do. With that
// user's credentials plan reports no push permission and exits 1; with a
// user that may push, every repository will be created on push.
func TestPlanPreflightNoPushPermission(t *testing.T) {
	imgs := rigImages()
	src := seededSource(t, imgs)
	dst := authedServer(t, "", authUser+":"+authHash, helperUser+":"+helperHash)
	f := startFront(t, dst)
	f.set(func(w http.ResponseWriter, r *http.Request) bool {
		if user, _, ok := r.BasicAuth(); ok && user == helperUser && isWrite(r) {
			registryError(w, http.StatusForbidden, "DENIED", "requested access to the resource is denied")
			return true
		}
		return false
	})
	r := newRig(t, src.Host(), f.host(), imgs, "")
	r.env = []string{"DOCKER_CONFIG=" + dockerConfig(t, map[string]any{"auths": basicAuths(helperUser, helperPass, f.host())})}
	r.must(0, "lock")

	res := r.must(1, "plan")
	for _, img := range imgs {
		want := "  no push permission  " + f.host() + "/mirror/" + strings.Split(rigRepoPath(img), ":")[0] + ": DENIED: requested access to the resource is denied\n"
		if !strings.Contains(res.stdout, want) {
			t.Errorf("plan lacks %q:\n%v", want, res)
		}
	}
	if !strings.Contains(res.stdout, "Preflight of the 3 target repositories the plan writes to: 3 no push permission.\n") ||
		!strings.Contains(res.stdout, "-> grant push to the account whose credentials for "+f.host()+" imagesync uses") ||
		!strings.Contains(res.stderr, "apply would fail on 3 target repositories") {
		t.Errorf("plan with a pull-only user:\n%v", res)
	}
	if secret := helperPass; strings.Contains(res.stdout+res.stderr, secret) {
		t.Error("plan shows the password")
	}

	r.env = []string{"DOCKER_CONFIG=" + dockerConfig(t, map[string]any{"auths": basicAuths(authUser, authPassword, f.host())})}
	res = r.must(2, "plan", "--detailed-exitcode")
	if !strings.Contains(res.stdout, "Preflight of the 3 target repositories the plan writes to: 3 will be created on push.\n") {
		t.Errorf("plan with a user that may push:\n%v", res)
	}
	r.must(0, "apply", "--auto-approve")
	res = r.must(0, "plan", "--detailed-exitcode")
	if !strings.Contains(res.stdout, "No changes.") || strings.Contains(res.stdout, "Preflight") {
		t.Errorf("a no-op plan checks nothing:\n%v", res)
	}
}

// TestPlanWithoutTargetCredentials: the target requires a login and there
// are no credentials, as in a pull request from a fork. plan says so and,
// with --base-lock, compares images.lock with the base branch's lock:
// "target not compared", exit 2 with --detailed-exitcode when they differ,
// 0 when they do not; apply refuses such a plan.
func TestPlanWithoutTargetCredentials(t *testing.T) {
	imgs := rigImages()
	src := seededSource(t, imgs)
	dst := authedServer(t, "", authUser+":"+authHash)
	r := newRig(t, src.Host(), dst.Host(), imgs, "")
	r.must(0, "lock")

	res := r.must(1, "plan")
	if !strings.Contains(res.stderr, "no credentials for "+dst.Host()+" were found") || !strings.Contains(res.stderr, `"imagesync plan --base-lock FILE"`) {
		t.Errorf("plan without credentials or --base-lock:\n%v", res)
	}

	// The base branch's lock: debian not yet in it, busybox at another digest.
	l := loadLock(t, filepath.Join(r.dir, "images.lock"))
	busybox, debian := mustRef(t, r.source(imageOf(t, imgs, "busybox"))), mustRef(t, r.source(imageOf(t, imgs, "debian")))
	base := &lock.Lock{Builds: l.Builds}
	for _, img := range l.Images {
		switch img.Ref {
		case debian:
			continue
		case busybox:
			img.Digest = digest.FromString("an older busybox")
		}
		base.Images = append(base.Images, img)
	}
	writeFile(t, filepath.Join(r.dir, "base.lock"), string(lock.Format(base)))

	res = r.must(2, "plan", "--detailed-exitcode", "--base-lock", "base.lock")
	for _, want := range []string{
		"Target not compared: authentication to " + dst.Host() + " failed: it requires a login and no credentials for " + dst.Host() + " were found",
		"imagesync compared images.lock with base.lock (target not compared).",
		"  ~ " + busybox.String() + " ",
		"  + " + debian.String() + " ",
		"Plan: 1 to create, 1 to update, 1 unchanged.\n",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("plan --base-lock lacks %q:\n%v", want, res)
		}
	}
	res = r.must(2, "plan", "--detailed-exitcode", "--base-lock", "base.lock", "--format", "markdown")
	if !strings.Contains(res.stdout, "> **Target not compared:** authentication to "+dst.Host()) || !strings.Contains(res.stdout, "### Update (1)") {
		t.Errorf("plan --base-lock --format markdown:\n%v", res)
	}
	writeFile(t, filepath.Join(r.dir, "same.lock"), readFile(t, filepath.Join(r.dir, "images.lock")))
	res = r.must(0, "plan", "--detailed-exitcode", "--base-lock", "same.lock")
	if !strings.Contains(res.stdout, "No changes. images.lock matches same.lock (target not compared).") {
		t.Errorf("plan against an identical base lock:\n%v", res)
	}

	r.must(2, "plan", "--detailed-exitcode", "--base-lock", "base.lock", "--out", "p.json")
	res = r.must(1, "apply", "p.json")
	if !strings.Contains(res.stderr, "compared images.lock with base.lock, not with the target registry") {
		t.Errorf("apply of a plan that did not compare the target:\n%v", res)
	}
}

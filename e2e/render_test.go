package e2e

// Deploying from the mirror: render compose, env and json on the example
// stack, checked with compose-go (docker compose's own loader) and with an
// independent registry client (go-containerregistry's crane).

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/imagesync/imagesync/internal/lock"
)

// composeImages loads the example's compose file and the override with
// compose-go, every profile on, and returns each service's image; it
// fails the test when a service still builds, unless render left it alone.
func composeImages(t *testing.T, dir, override string, leftAlone ...string) map[string]string {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "docker-compose.yml"), filepath.Join(dir, override)},
		cli.WithWorkingDirectory(dir), cli.WithEnvFiles(filepath.Join(dir, ".env")), cli.WithDotEnv, cli.WithProfiles([]string{"*"}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose-go refuses the example with %s: %v", override, err)
	}
	out := map[string]string{}
	for name, svc := range p.Services {
		if svc.Build != nil && !slices.Contains(leftAlone, name) {
			t.Errorf("service %s still builds (%+v): the override must reset build", name, svc.Build)
		}
		out[name] = svc.Image
	}
	return out
}

// targetDigest asks the target registry, with crane rather than
// imagesync's client, what a reference resolves to.
func targetDigest(t *testing.T, ref string) string {
	t.Helper()
	d, err := crane.Digest(ref, crane.Insecure)
	if err != nil {
		t.Fatalf("crane digest %s: %v", ref, err)
	}
	return d
}

var pinnedRef = regexp.MustCompile(`^(.+)@(sha256:[0-9a-f]{64})$`)

// checkPinned checks that ref is <target repository>@sha256:... on the
// target registry, and that crane resolves it to that digest; it returns
// the repository and the digest.
func checkPinned(t *testing.T, s *stack, what, ref string) (repo, digest string) {
	t.Helper()
	m := pinnedRef.FindStringSubmatch(ref)
	if m == nil || !strings.HasPrefix(m[1], s.target.Host()+"/ai-infra-matrix/") || strings.Contains(strings.TrimPrefix(m[1], s.target.Host()), ":") {
		t.Errorf("%s: %q is not <target repository>@sha256:...", what, ref)
		return "", ""
	}
	if got := targetDigest(t, ref); got != m[2] {
		t.Errorf("%s: %s resolves to %s in the target", what, ref, got)
	}
	return m[1], m[2]
}

// TestRenderComposeMirrored renders the example whose builds are left out
// of the lock (exclude), without a builder: the 8 runtime images are
// pinned, the 5 built services are left as they are and said so.
func TestRenderComposeMirrored(t *testing.T) {
	s := startStack(t)
	dir, l := appliedExample(t, s)
	r := run(t, dir, 0, "render", "compose")
	if !strings.Contains(r.stdout, "Wrote compose.mirror.yaml: 8 services from the target registry by digest.") {
		t.Errorf("render compose:\n%v", r)
	}
	for _, svc := range []string{"backend", "frontend", "jupyterhub", "nginx", "saltstack"} {
		if !strings.Contains(r.stderr, "imagesync: left alone: service "+svc+": its build is not in images.lock (left as it is)\n") {
			t.Errorf("render compose does not say it left %s alone:\n%s", svc, r.stderr)
		}
	}
	images := composeImages(t, dir, "compose.mirror.yaml", "backend", "frontend", "jupyterhub", "nginx", "saltstack")
	sources := map[string]string{"postgres": "docker.io/library/postgres:15-alpine", "redis": "docker.io/library/redis:7-alpine",
		"openldap": "docker.io/osixia/openldap:stable", "phpldapadmin": "docker.io/osixia/phpldapadmin:stable",
		"minio": "quay.io/minio/minio:latest", "redisinsight": "docker.io/redislabs/redisinsight:latest",
		"tcp-proxy": "docker.io/tecnativa/tcp-proxy:latest", "gateway": "docker.io/library/nginx:1.27-alpine"}
	for svc, src := range sources {
		img := lockedImage(t, l, src)
		if want := img.Target.Repository() + "@" + img.Digest.String(); images[svc] != want {
			t.Errorf("service %s runs %q, want %s", svc, images[svc], want)
		}
		checkPinned(t, s, "service "+svc, images[svc])
	}
	if images["backend"] != "ai-infra-backend:v0.3.5" {
		t.Errorf("backend, left alone, runs %q", images["backend"])
	}

	r = run(t, dir, 0, "render", "compose", "-o", "-")
	if written := readFile(t, filepath.Join(dir, "compose.mirror.yaml")); !strings.HasSuffix(r.stdout, strings.SplitN(written, "\nservices:", 2)[1]) ||
		!strings.Contains(r.stdout, "-f docker-compose.yml -f <this file> up") {
		t.Errorf("render compose -o - differs from the file:\n%s", r.stdout)
	}
}

// TestRenderBuilt renders the whole example: before apply the builds are
// missing and render says which and what to do; after apply every
// service, built ones included, runs from the target by digest, apply has
// not touched images.lock, and env, json and images --target-digests agree.
func TestRenderBuilt(t *testing.T) {
	needBuildah(t)
	s := startStack(t)
	dir := s.example(t)
	writeFile(t, filepath.Join(dir, "images.hcl"), readFile(t, filepath.Join(dir, "images.hcl"))+`
render {
  env = {
    REDIS_IMAGE   = "redis:7-alpine"
    BACKEND_IMAGE = "ai-infra-backend:v0.3.5"
  }
}
`)
	run(t, dir, 0, "lock")
	lockPath := filepath.Join(dir, "images.lock")
	lockBytes, lockInfo := readFile(t, lockPath), stat(t, lockPath)
	run(t, dir, 0, "apply", "--auto-approve", "--skip-builds")

	r := run(t, dir, 1, "render", "compose")
	for _, svc := range []string{"backend", "frontend", "jupyterhub", "nginx", "saltstack"} {
		if !strings.Contains(r.stderr, "\n  service "+svc+": the target registry has no "+s.target.Host()+"/ai-infra-matrix/ai-infra-"+svc+":v0.3.5\n") {
			t.Errorf("render compose before the builds does not name %s:\n%s", svc, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, `run "imagesync apply" first, then render again`) {
		t.Errorf("render compose before the builds:\n%v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "compose.mirror.yaml")); !os.IsNotExist(err) {
		t.Errorf("a failed render wrote compose.mirror.yaml: %v", err)
	}

	run(t, dir, 0, "apply", "--auto-approve")
	if readFile(t, lockPath) != lockBytes || !stat(t, lockPath).ModTime().Equal(lockInfo.ModTime()) {
		t.Error("apply wrote images.lock")
	}

	r = run(t, dir, 0, "render", "compose")
	if !strings.Contains(r.stdout, "13 services") || r.stderr != "" {
		t.Errorf("render compose:\n%v", r)
	}
	l := loadLock(t, lockPath)
	builtDigests := map[string]string{}
	for svc, img := range composeImages(t, dir, "compose.mirror.yaml") {
		repo, d := checkPinned(t, s, "service "+svc, img)
		if b := builtBy(l, svc); b != nil {
			// The tag apply pushed points at the pinned digest.
			if got := targetDigest(t, b.Target.String()); repo != b.Target.Repository() || got != d {
				t.Errorf("service %s runs %s, the target's %s is %s", svc, img, b.Target, got)
			}
			builtDigests[b.Ref.String()] = d
		}
	}
	if len(builtDigests) != 5 {
		t.Errorf("%d built images pinned, want 5: %v", len(builtDigests), builtDigests)
	}
	checkRenderEnvJSON(t, s, dir, l, builtDigests)
}

// checkRenderEnvJSON checks render env, render json and images
// --target-digests against the lock and the built digests.
func checkRenderEnvJSON(t *testing.T, s *stack, dir string, l *lock.Lock, built map[string]string) {
	t.Helper()
	redis := lockedImage(t, l, "docker.io/library/redis:7-alpine")
	backend := s.target.Host() + "/ai-infra-matrix/ai-infra-backend@" + built["docker.io/library/ai-infra-backend:v0.3.5"]
	r := run(t, dir, 0, "render", "env")
	if want := "REDIS_IMAGE=" + redis.Target.Repository() + "@" + redis.Digest.String() + "\nBACKEND_IMAGE=" + backend + "\n"; r.stdout != want {
		t.Errorf("render env:\n%s\nwant\n%s", r.stdout, want)
	}

	r = run(t, dir, 0, "render", "json")
	var list []struct{ Source, Target, Digest string }
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("render json: %v\n%s", err, r.stdout)
	}
	if len(list) != len(l.Images)+len(l.Builds) {
		t.Errorf("render json lists %d images, the lock %d + %d", len(list), len(l.Images), len(l.Builds))
	}
	for _, e := range list {
		want := built[e.Source]
		if img := l.Image(mustRef(t, e.Source)); img != nil {
			want = img.Digest.String()
		}
		if e.Digest != want || targetDigest(t, e.Target) != want {
			t.Errorf("render json %s: digest %s, target %s; want %s", e.Source, e.Digest, e.Target, want)
		}
	}

	r = run(t, dir, 0, "images", "--target-digests", "--json")
	var images struct {
		Builds []struct {
			Reference    string
			TargetDigest string `json:"target_digest"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &images); err != nil {
		t.Fatal(err)
	}
	for _, b := range images.Builds {
		if b.TargetDigest != built[b.Reference] {
			t.Errorf("images --target-digests: %s at %q, render json says %s", b.Reference, b.TargetDigest, built[b.Reference])
		}
	}

	// An entry naming an image the lock does not hold: a diagnostic on it.
	cfg := filepath.Join(dir, "images.hcl")
	replaceInFile(t, cfg, `REDIS_IMAGE   = "redis:7-alpine"`, `REDIS_IMAGE   = "redis:9"`)
	r = run(t, dir, 1, "render", "env")
	if !regexp.MustCompile(`^imagesync: images\.hcl:\d+:21: Image not in images\.lock\n(.*\n)*  REDIS_IMAGE names docker\.io/library/redis:9, `).MatchString(r.stderr) || r.stdout != "" {
		t.Errorf("render env with an entry not in the lock:\n%v", r)
	}
}

// builtBy is the lock's build of a compose service, or nil.
func builtBy(l *lock.Lock, service string) *lock.Build {
	for i, b := range l.Builds {
		for _, s := range b.Services {
			if s == service {
				return &l.Builds[i]
			}
		}
	}
	return nil
}

// stat is os.Stat of a file the test expects to exist.
func stat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

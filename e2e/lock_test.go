package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// stack is a set of real registries: stand-ins for docker.io and quay.io
// seeded with the example's images, and an empty target.
type stack struct {
	hub, quay, target *testregistry.Server
	images            []fakeupstream.Image
}

func startStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{
		hub:    testregistry.StartT(t),
		quay:   testregistry.StartT(t),
		target: testregistry.StartT(t),
		images: fakeupstream.Seed(),
	}
	if err := fakeupstream.PushAll(context.Background(), s.images, s.hosts()); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *stack) hosts() map[string]string {
	return map[string]string{"docker.io": s.hub.Host(), "quay.io": s.quay.Host()}
}

// example copies the example and points its images.hcl at the stack.
func (s *stack) example(t *testing.T) string {
	t.Helper()
	dir := copyExample(t)
	cfg := filepath.Join(dir, "images.hcl")
	replaceInFile(t, cfg, "127.0.0.1:5100", s.target.Host())
	replaceInFile(t, cfg, "http://127.0.0.1:5101", s.hub.URL())
	replaceInFile(t, cfg, "http://127.0.0.1:5102", s.quay.URL())
	return dir
}

func loadLock(t *testing.T, path string) *lock.Lock {
	t.Helper()
	f, diags := lock.Load(hclparse.NewParser(), path)
	if f == nil || diags.HasErrors() {
		t.Fatalf("load %s: missing or broken: %v", path, diags)
	}
	return f.Lock
}

func TestLockExample(t *testing.T) {
	s := startStack(t)
	dir := s.example(t)

	r := imagesync(t, dir, "lock")
	if r.code != 0 {
		t.Fatalf("lock failed: %v", r)
	}
	if !strings.Contains(r.stdout, "Created images.lock: 15 images, 5 builds (20 added") {
		t.Errorf("lock output lacks the summary:\n%s", r.stdout)
	}
	l := loadLock(t, filepath.Join(dir, "images.lock"))
	if len(l.Images) != 15 || len(l.Builds) != 5 {
		t.Fatalf("lock has %d images and %d builds, want 15 and 5", len(l.Images), len(l.Builds))
	}

	// The seed's target names, under the test's target registry.
	reg := s.target.Host() + "/ai-infra-matrix/"
	var targets []string
	for _, img := range l.Images {
		targets = append(targets, strings.TrimPrefix(img.Target.String(), reg))
	}
	for _, b := range l.Builds {
		targets = append(targets, strings.TrimPrefix(b.Target.String(), reg))
	}
	sort.Strings(targets)
	want := []string{
		"ai-infra-backend:v0.3.5", "ai-infra-frontend:v0.3.5", "ai-infra-jupyterhub:v0.3.5", "ai-infra-nginx:v0.3.5",
		"ai-infra-saltstack:v0.3.5", "alpine:latest", "golang:1.24-alpine", "golang:1.25-alpine", "minio/minio:latest",
		"nginx:1.27-alpine", "nginx:stable-alpine-perl", "node:18-alpine", "node:22-alpine", "osixia/openldap:stable",
		"osixia/phpldapadmin:stable", "postgres:15-alpine", "python:3.13-alpine", "redis:7-alpine",
		"redislabs/redisinsight:latest", "tecnativa/tcp-proxy:latest",
	}
	if strings.Join(targets, "\n") != strings.Join(want, "\n") {
		t.Errorf("targets:\n%s\nwant:\n%s", strings.Join(targets, "\n"), strings.Join(want, "\n"))
	}

	// Every locked digest is what the stand-in upstream serves for the tag,
	// the index digest for multi-platform images, with its platforms.
	for _, img := range s.images {
		ref, err := name.ParseReference(mirrorRef(s, img.Ref), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Get(ref)
		if err != nil {
			t.Fatal(err)
		}
		locked := lockedImage(t, l, img.Ref)
		if locked.Digest.String() != desc.Digest.String() || locked.MediaType != string(desc.MediaType) {
			t.Errorf("%s locked %s %s, registry serves %s %s", img.Ref, locked.Digest, locked.MediaType, desc.Digest, desc.MediaType)
		}
		wantPlatforms := append([]string(nil), img.Platforms...)
		sort.Strings(wantPlatforms)
		if strings.Join(locked.Platforms, ",") != strings.Join(wantPlatforms, ",") {
			t.Errorf("%s platforms %v, want %v", img.Ref, locked.Platforms, wantPlatforms)
		}
	}

	// Discovery details that matter: the compose arg picks node:22, the
	// unreachable debug stage adds nothing, the glob adds the extra bases.
	frontend := l.Build(mustRef(t, "ai-infra-frontend:v0.3.5"))
	if frontend == nil || frontend.TargetStage != "runtime" || refsString(frontend.Bases) != "docker.io/library/nginx:stable-alpine-perl,docker.io/library/node:22-alpine" {
		t.Errorf("frontend build = %+v", frontend)
	}
	if got := lockedImage(t, l, "docker.io/library/golang:1.24-alpine").Sources; strings.Join(got, ",") != "src/backend/Dockerfile.legacy#FROM 0" {
		t.Errorf("golang:1.24 sources = %v", got)
	}

	// The lock is current; a second lock run changes nothing.
	before := readFile(t, filepath.Join(dir, "images.lock"))
	if r := imagesync(t, dir, "lock", "--check"); r.code != 0 || !strings.Contains(r.stdout, "up to date") {
		t.Errorf("check of fresh lock: %v", r)
	}
	if r := imagesync(t, dir, "lock"); r.code != 0 || !strings.Contains(r.stdout, "up to date") {
		t.Errorf("second lock: %v", r)
	}
	if after := readFile(t, filepath.Join(dir, "images.lock")); after != before {
		t.Error("second lock run changed images.lock")
	}

	// Deterministic: a fresh copy locked from scratch gives the same bytes.
	dir2 := s.example(t)
	if r := imagesync(t, dir2, "lock"); r.code != 0 {
		t.Fatalf("lock of second copy: %v", r)
	}
	if readFile(t, filepath.Join(dir2, "images.lock")) != before {
		t.Error("two locks of the same repository differ")
	}

	// images --json lists the same as the lock.
	r = imagesync(t, dir, "images", "--json")
	var list struct {
		Images []struct{ Reference, Digest string }
		Builds []struct{ Reference, Inputs string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || r.code != 0 {
		t.Fatalf("images --json: %v %v", err, r)
	}
	if len(list.Images) != 15 || len(list.Builds) != 5 || list.Images[0].Digest != l.Images[0].Digest.String() {
		t.Errorf("images --json = %+v", list)
	}
	if r := imagesync(t, dir, "images"); r.code != 0 || !strings.Contains(r.stdout, "docker.io/osixia/openldap:stable") ||
		!strings.Contains(r.stdout, "REFERENCE") {
		t.Errorf("images table: %v", r)
	}
}

// TestCommittedLock checks the repository's own images.lock against its
// images.hcl without network, as CI does, and that its digests are the
// ones the generated stand-in images have.
func TestCommittedLock(t *testing.T) {
	if r := imagesync(t, "..", "lock", "--check"); r.code != 0 {
		t.Fatalf("the committed images.lock is stale: %v", r)
	}
	committed := loadLock(t, filepath.Join("..", "images.lock"))
	for _, img := range fakeupstream.Seed() {
		built, err := fakeupstream.Build(img)
		if err != nil {
			t.Fatal(err)
		}
		d, err := built.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if got := lockedImage(t, committed, img.Ref).Digest.String(); got != d.String() {
			t.Errorf("committed lock pins %s to %s, the demo's upstream serves %s", img.Ref, got, d)
		}
	}
}

func TestLockCheckStale(t *testing.T) {
	s := startStack(t)
	dir := s.example(t)
	if r := imagesync(t, dir, "lock", "--check"); r.code != 1 || !strings.Contains(r.stderr, "images.lock does not exist") ||
		!strings.Contains(r.stderr, `run "imagesync lock" to update images.lock`) {
		t.Errorf("check without lock: %v", r)
	}
	if r := imagesync(t, dir, "lock"); r.code != 0 {
		t.Fatal(r)
	}
	lockPath := filepath.Join(dir, "images.lock")
	before := readFile(t, lockPath)

	// A new base image, a changed context file and a removed service.
	replaceInFile(t, filepath.Join(dir, "src/jupyterhub/Dockerfile"), "FROM python:3.13-alpine", "FROM python:3.13-alpine\nCOPY --from=busybox:1.36 /bin/busybox /bin/")
	writeFile(t, filepath.Join(dir, "src/saltstack/states/top.sls"), "base: {'*': [core]}\n")
	replaceInFile(t, filepath.Join(dir, "docker-compose.yml"), "  tcp-proxy:\n    image: tecnativa/tcp-proxy\n    profiles: [tools]\n", "")

	r := imagesync(t, dir, "lock", "--check")
	if r.code != 1 {
		t.Fatalf("stale check exited %d: %v", r.code, r)
	}
	for _, want := range []string{
		"+ docker.io/library/busybox:1.36: not in images.lock",
		"- docker.io/tecnativa/tcp-proxy:latest: in images.lock but no longer referenced",
		"~ build docker.io/library/ai-infra-saltstack:v0.3.5: inputs sha256:",
		"~ build docker.io/library/ai-infra-jupyterhub:v0.3.5: ",
		`run "imagesync lock" to update images.lock`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stderr)
		}
	}
	if readFile(t, lockPath) != before {
		t.Error("lock --check wrote images.lock")
	}
	// .dockerignore'd files do not change the inputs.
	writeFile(t, filepath.Join(dir, "src/backend/README.md"), "ignored by .dockerignore\n")
	if r := imagesync(t, dir, "lock", "--check"); strings.Contains(r.stderr, "ai-infra-backend") {
		t.Errorf("a .dockerignore'd file changed the backend's inputs:\n%s", r.stderr)
	}
}

func TestLockUnresolvable(t *testing.T) {
	s := startStack(t)
	dir := s.example(t)
	if r := imagesync(t, dir, "lock"); r.code != 0 {
		t.Fatal(r)
	}
	lockPath := filepath.Join(dir, "images.lock")
	before := readFile(t, lockPath)
	replaceInFile(t, filepath.Join(dir, "docker-compose.yml"), "image: redis:7-alpine", "image: redis:9-alpine")
	r := imagesync(t, dir, "lock")
	if r.code != 1 {
		t.Fatalf("lock of a missing image exited %d: %v", r.code, r)
	}
	if !strings.Contains(r.stderr, "docker.io/library/redis:9-alpine (from docker-compose.yml#services.redis.image)") ||
		!strings.Contains(r.stderr, "not found") {
		t.Errorf("error does not name the image and where it was found:\n%s", r.stderr)
	}
	if readFile(t, lockPath) != before {
		t.Error("failed lock run changed images.lock")
	}

	// A registry that is down: every image fails, named, nothing written.
	s.hub.Close()
	replaceInFile(t, filepath.Join(dir, "docker-compose.yml"), "image: redis:9-alpine", "image: redis:7-alpine")
	os.Remove(lockPath)
	r = imagesync(t, dir, "lock")
	if r.code != 1 || !strings.Contains(r.stderr, "could not be resolved") || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("lock with upstream down: %v", r)
	}
	if _, err := os.Stat(lockPath); !os.IsNotExist(err) {
		t.Error("failed lock run wrote images.lock")
	}
}

func TestLockUpgrade(t *testing.T) {
	s := startStack(t)
	dir := s.example(t)
	if r := imagesync(t, dir, "lock"); r.code != 0 {
		t.Fatal(r)
	}
	old := loadLock(t, filepath.Join(dir, "images.lock"))
	// Upstream moves redis:7-alpine and python:3.13-alpine.
	for _, ref := range []string{"docker.io/library/redis:7-alpine", "docker.io/library/python:3.13-alpine"} {
		img := seedImage(t, s, ref)
		img.Generation = 1
		if _, err := fakeupstream.Push(context.Background(), img, s.hosts()); err != nil {
			t.Fatal(err)
		}
	}
	// Plain lock keeps the pinned digests.
	if r := imagesync(t, dir, "lock"); r.code != 0 || !strings.Contains(r.stdout, "up to date") {
		t.Errorf("lock after upstream moved: %v", r)
	}
	// --upgrade REF re-resolves only that reference.
	r := imagesync(t, dir, "lock", "--upgrade", "redis:7-alpine")
	if r.code != 0 || !regexp.MustCompile(`~ image docker.io/library/redis:7-alpine: digest sha256:[0-9a-f]{12} -> sha256:[0-9a-f]{12}`).MatchString(r.stdout) {
		t.Fatalf("upgrade redis: %v", r)
	}
	mid := loadLock(t, filepath.Join(dir, "images.lock"))
	if lockedImage(t, mid, "docker.io/library/python:3.13-alpine").Digest != lockedImage(t, old, "docker.io/library/python:3.13-alpine").Digest {
		t.Error("--upgrade redis also upgraded python")
	}
	// --upgrade re-resolves everything; builds on python get new inputs.
	r = imagesync(t, dir, "lock", "--upgrade")
	if r.code != 0 || !strings.Contains(r.stdout, "~ image docker.io/library/python:3.13-alpine") ||
		!strings.Contains(r.stdout, "~ build docker.io/library/ai-infra-jupyterhub:v0.3.5: inputs") ||
		!strings.Contains(r.stdout, "~ build docker.io/library/ai-infra-saltstack:v0.3.5: inputs") ||
		strings.Contains(r.stdout, "ai-infra-backend") {
		t.Errorf("upgrade all: %v", r)
	}
	if r := imagesync(t, dir, "lock", "--upgrade", "nope:1"); r.code != 1 || !strings.Contains(r.stderr, "not in images.lock") {
		t.Errorf("upgrade of unknown ref: %v", r)
	}
}

func TestBadInput(t *testing.T) {
	dir := copyExample(t)
	cfg := filepath.Join(dir, "images.hcl")
	replaceInFile(t, cfg, `registry = "127.0.0.1:5100/ai-infra-matrix"`, `registry = "127.0.0.1:5100/ai-infra-matrix"`+"\n  layuot = \"flat\"")
	r := imagesync(t, dir, "lock")
	if r.code != 1 || !strings.Contains(r.stderr, "Unsupported argument") || !strings.Contains(r.stderr, "imagesync: images.hcl:6:3: Unsupported argument") {
		t.Errorf("malformed images.hcl: %v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "images.lock")); !os.IsNotExist(err) {
		t.Error("lock written despite a config error")
	}

	dir = copyExample(t)
	writeFile(t, filepath.Join(dir, "src/nginx/Dockerfile"), "FROM nginx:stable-alpine-perl\nCOPY --from=$X /a /b\n")
	if r := imagesync(t, dir, "images", "--discovered"); r.code != 1 || !strings.Contains(r.stderr, "src/nginx/Dockerfile:2") {
		t.Errorf("broken Dockerfile: %v", r)
	}
	dir = copyExample(t)
	replaceInFile(t, filepath.Join(dir, ".env"), "POSTGRES_VERSION=15\n", "")
	replaceInFile(t, filepath.Join(dir, "docker-compose.yml"), "${POSTGRES_VERSION:-15}", "${POSTGRES_VERSION}")
	if r := imagesync(t, dir, "images", "--discovered"); r.code != 1 || !strings.Contains(r.stderr, "POSTGRES_VERSION") ||
		!strings.Contains(r.stderr, "postgres") || !strings.Contains(r.stderr, "docker-compose.yml") {
		t.Errorf("unset variable in image: %v", r)
	}

	// Usage errors exit 1, as every other error, so that exit 2 can only
	// mean "changes pending" of plan --detailed-exitcode; help exits 0.
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"frobnicate"}, 1},
		{[]string{"lock", "--nope"}, 1},
		{[]string{"lock", "redis"}, 1},
		{[]string{"plan", "--detailed-exitcode", "--nope"}, 1},
		{[]string{"apply", "--parallelism", "x"}, 1},
		{[]string{}, 1},
		{[]string{"version"}, 0},
		{[]string{"help", "lock"}, 0},
		{[]string{"apply", "--help"}, 0},
		{[]string{"plan", "-h"}, 0},
		{[]string{"-C", "/does/not/exist", "lock"}, 1},
	} {
		r := imagesync(t, dir, tt.args...)
		if r.code != tt.code {
			t.Errorf("imagesync %v exited %d, want %d: %v", tt.args, r.code, tt.code, r)
		}
		if tt.code != 0 && !strings.HasPrefix(r.stderr, "imagesync: ") {
			t.Errorf("imagesync %v: the error does not start with \"imagesync: \": %v", tt.args, r)
		}
		if tt.code == 0 && (r.stdout == "" || r.stderr != "") {
			t.Errorf("imagesync %v: want output on stdout only: %v", tt.args, r)
		}
	}
}

// mirrorRef is a canonical upstream reference on its stand-in registry.
func mirrorRef(s *stack, canonical string) string {
	domain, rest, _ := strings.Cut(canonical, "/")
	return s.hosts()[domain] + "/" + rest
}

package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// stackOptions are the testregistry options of each registry of a stack,
// for tests that need to know where a registry stores its data.
type stackOptions struct {
	hub, quay, target []testregistry.Option
}

// startStackWith is startStack with options per registry.
func startStackWith(t *testing.T, o stackOptions) *stack {
	t.Helper()
	s := &stack{
		hub:    testregistry.StartT(t, o.hub...),
		quay:   testregistry.StartT(t, o.quay...),
		target: testregistry.StartT(t, o.target...),
		images: fakeupstream.Seed(),
	}
	if err := fakeupstream.PushAll(context.Background(), s.images, s.hosts()); err != nil {
		t.Fatal(err)
	}
	return s
}

// run runs imagesync and fails the test unless it exits with code.
func run(t *testing.T, dir string, code int, args ...string) result {
	t.Helper()
	r := imagesync(t, dir, args...)
	if r.code != code {
		t.Fatalf("imagesync %s exited %d, want %d\n%v", strings.Join(args, " "), r.code, code, r)
	}
	return r
}

// mirrorExample is the example pointed at s without its 5 builds (left
// out with a top-level exclude), for the tests of mirroring; builds have
// their own tests (build_test.go).
func (s *stack) mirrorExample(t *testing.T) string {
	t.Helper()
	dir := s.example(t)
	cfg := filepath.Join(dir, "images.hcl")
	writeFile(t, cfg, readFile(t, cfg)+"\nexclude = [\"docker.io/library/ai-infra-*\"]\n")
	return dir
}

// lockedExample is the example pointed at s and locked.
func lockedExample(t *testing.T, s *stack) (dir string, l *lock.Lock) {
	t.Helper()
	dir = s.mirrorExample(t)
	run(t, dir, 0, "lock")
	return dir, loadLock(t, filepath.Join(dir, "images.lock"))
}

// appliedExample is the example locked and applied to s's target.
func appliedExample(t *testing.T, s *stack) (dir string, l *lock.Lock) {
	t.Helper()
	dir, l = lockedExample(t, s)
	r := run(t, dir, 0, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "Apply complete! Images: 15 created, 0 updated, 0 unchanged.") {
		t.Fatalf("apply did not create the 15 images:\n%v", r)
	}
	return dir, l
}

// moveUpstreamTag pushes generation 1 of a seed image to its stand-in
// upstream, like an upstream tag that moved, and returns the new digest.
func moveUpstreamTag(t *testing.T, s *stack, ref string) string {
	t.Helper()
	img := seedImage(t, s, ref)
	img.Generation = 1
	d, err := fakeupstream.Push(context.Background(), img, s.hosts())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// requests is the registry's access log so far.
func requests(t *testing.T, srv *testregistry.Server) []testregistry.Request {
	t.Helper()
	reqs, err := srv.Requests()
	if err != nil {
		t.Fatal(err)
	}
	return reqs
}

// requestsSince is the registry's access log after the first mark lines.
func requestsSince(t *testing.T, srv *testregistry.Server, mark int) []testregistry.Request {
	t.Helper()
	reqs := requests(t, srv)
	if len(reqs) < mark {
		t.Fatalf("access log shrank from %d to %d lines", mark, len(reqs))
	}
	return reqs[mark:]
}

// uploads counts the completed blob uploads (the PUT that ends an upload
// session, answered 201) per digest.
func uploads(reqs []testregistry.Request) map[string]int {
	out := map[string]int{}
	for _, r := range reqs {
		if kind, _, _ := r.Endpoint(); kind != testregistry.KindBlobUpload || r.Method != http.MethodPut || r.Status != http.StatusCreated {
			continue
		}
		q, _ := url.ParseQuery(r.Query)
		if d := q.Get("digest"); d != "" {
			out[d]++
		}
	}
	return out
}

// uploadsTo lists the repositories each digest was uploaded into.
func uploadsTo(reqs []testregistry.Request) map[string][]string {
	out := map[string][]string{}
	for _, r := range reqs {
		kind, repo, _ := r.Endpoint()
		if kind != testregistry.KindBlobUpload || r.Method != http.MethodPut || r.Status != http.StatusCreated {
			continue
		}
		q, _ := url.ParseQuery(r.Query)
		if d := q.Get("digest"); d != "" {
			out[d] = append(out[d], repo)
		}
	}
	return out
}

// mount is a cross-repository blob mount the registry performed.
type mount struct{ digest, from, into string }

// mounts lists the blob mounts answered 201 Created.
func mounts(reqs []testregistry.Request) []mount {
	var out []mount
	for _, r := range reqs {
		kind, repo, _ := r.Endpoint()
		if kind != testregistry.KindBlobUpload || r.Method != http.MethodPost || r.Status != http.StatusCreated {
			continue
		}
		q, _ := url.ParseQuery(r.Query)
		if q.Get("mount") != "" {
			out = append(out, mount{digest: q.Get("mount"), from: q.Get("from"), into: repo})
		}
	}
	return out
}

// writes lists the requests that change a registry (anything but GET and
// HEAD), as "METHOD path".
func writes(reqs []testregistry.Request) []string {
	var out []string
	for _, r := range reqs {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

// withoutPings leaves out the GET /v2/ pings.
func withoutPings(reqs []testregistry.Request) []testregistry.Request {
	var out []testregistry.Request
	for _, r := range reqs {
		if kind, _, _ := r.Endpoint(); kind != testregistry.KindPing {
			out = append(out, r)
		}
	}
	return out
}

// parseRef parses a reference to a loopback registry.
func parseRef(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// headDigest is the digest a reference on a loopback registry resolves
// to, "" when the registry says it does not exist.
func headDigest(t *testing.T, ref string) string {
	t.Helper()
	desc, err := remote.Head(parseRef(t, ref))
	var terr *transport.Error
	switch {
	case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
		return ""
	case err != nil:
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return desc.Digest.String()
}

// manifest is a manifest as a registry serves it.
type manifest struct {
	raw       []byte
	mediaType string
}

// getManifest fetches the manifest a reference names from a loopback registry.
func getManifest(t *testing.T, ref string) manifest {
	t.Helper()
	desc, err := remote.Get(parseRef(t, ref))
	if err != nil {
		t.Fatalf("GET %s: %v", ref, err)
	}
	return manifest{raw: desc.Manifest, mediaType: string(desc.MediaType)}
}

// byDigest is repository@digest for a reference with a tag or digest.
func byDigest(ref, digest string) string {
	repo := ref
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo + "@" + digest
}

// platformManifests are the image manifests of a generated seed image:
// one per platform, or the single one.
func platformManifests(t *testing.T, img fakeupstream.Image) []*v1.Manifest {
	t.Helper()
	built, err := fakeupstream.Build(img)
	if err != nil {
		t.Fatal(err)
	}
	if built.Image != nil {
		m, err := built.Image.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		return []*v1.Manifest{m}
	}
	im, err := built.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []*v1.Manifest
	for _, desc := range im.Manifests {
		child, err := built.Index.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := child.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// blobsOf lists the distributable blobs (configs and layers) of a seed
// image, without duplicates.
func blobsOf(t *testing.T, img fakeupstream.Image) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, m := range platformManifests(t, img) {
		for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if b.MediaType.IsDistributable() && !seen[b.Digest.String()] {
				seen[b.Digest.String()] = true
				out = append(out, b.Digest.String())
			}
		}
	}
	return out
}

// targetRepo is the repository path of an image's target on the target
// registry ("ai-infra-matrix/redis"), as the access log names it.
func targetRepo(t *testing.T, l *lock.Lock, ref string) string {
	t.Helper()
	return lockedImage(t, l, ref).Target.Path()
}

// shortDigest is a digest as plan prints it: "sha256:" and 12 hex digits.
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

// storage paths of docker-registry's filesystem driver.
func blobDataPath(storage, digest string) string {
	hex := strings.TrimPrefix(digest, "sha256:")
	return filepath.Join(storage, "docker", "registry", "v2", "blobs", "sha256", hex[:2], hex, "data")
}

func tagDir(storage, repo, tag string) string {
	return filepath.Join(storage, "docker", "registry", "v2", "repositories", filepath.FromSlash(repo), "_manifests", "tags", tag)
}

// moveFile renames a file the test expects to exist.
func moveFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// sortedKeys returns a map's keys in order, for messages.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// planLines are the action lines of a plan's text ("  + ...", "  ~ ...").
func planLines(stdout, symbol string) []string {
	var out []string
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "  "+symbol+" ") && strings.Contains(line, " -> ") {
			out = append(out, line)
		}
	}
	return out
}

// problemLines are the problems verify lists ("  TARGET (SOURCE): DETAIL").
func problemLines(stdout string) []string {
	var out []string
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "  ") && strings.Contains(line, " (") && strings.Contains(line, "): ") {
			out = append(out, line)
		}
	}
	return out
}

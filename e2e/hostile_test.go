package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// putIndex pushes to repo on host, under tag, an OCI index of the
// entries, and returns how an index lists it. It is one PUT, without the
// ping and HEAD remote.Put adds, as a chain of a thousand is pushed.
func putIndex(t *testing.T, host, repo, tag string, entries []v1.Descriptor) v1.Descriptor {
	t.Helper()
	raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: entries})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, "http://"+host+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", string(types.OCIImageIndex))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT index %s/%s:%s: %s", host, repo, tag, resp.Status)
	}
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	return v1.Descriptor{MediaType: types.OCIImageIndex, Size: int64(len(raw)), Digest: h}
}

// putImage pushes a small random image to repo on host and returns how an
// index lists it.
func putImage(t *testing.T, host, repo string) v1.Descriptor {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/"+repo+":leaf", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	size, _ := img.Size()
	mt, _ := img.MediaType()
	return v1.Descriptor{MediaType: mt, Size: size, Digest: d}
}

func repeatDesc(d v1.Descriptor, n int) []v1.Descriptor {
	out := make([]v1.Descriptor, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// rawSource is a registry of manifests only, served from memory: enough
// for lock, which reads no blob, and quick to fill with a graph of a
// thousand manifests (the distribution registry checks every index it
// stores against its children, the whole chain below it each time).
type rawSource struct {
	mu        sync.Mutex
	manifests map[string][]byte // by digest and by tag
	gets      int               // manifest GETs answered 200
}

// add stores an index of entries under its digest (and tag, if not "")
// and returns how an index lists it.
func (s *rawSource) add(tag string, entries []v1.Descriptor) v1.Descriptor {
	raw, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: entries})
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	s.mu.Lock()
	s.manifests[h.String()] = raw
	if tag != "" {
		s.manifests[tag] = raw
	}
	s.mu.Unlock()
	return v1.Descriptor{MediaType: types.OCIImageIndex, Size: int64(len(raw)), Digest: h}
}

func (s *rawSource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, ref, ok := strings.Cut(r.URL.Path, "/manifests/")
	s.mu.Lock()
	raw, found := s.manifests[ref]
	if found && r.Method == http.MethodGet {
		s.gets++
	}
	s.mu.Unlock()
	switch {
	case r.URL.Path == "/v2/":
		return
	case !ok || !found:
		registryError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
		return
	}
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	w.Header().Set("Content-Type", string(types.OCIImageIndex))
	w.Header().Set("Docker-Content-Digest", h.String())
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(raw)
	}
}

// TestLockRefusesDeepIndex: an index nested 1,000 deep is refused by lock
// (the limit apply applies, one definition), naming the registry, after
// reading no more than the nesting allows, and no lockfile is written.
func TestLockRefusesDeepIndex(t *testing.T) {
	src := &rawSource{manifests: map[string][]byte{}}
	d := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 2, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}}
	for range 999 {
		d = src.add("", []v1.Descriptor{d})
	}
	src.add("1", []v1.Descriptor{d})
	srv := httptest.NewServer(src)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	r := newRig(t, host, "127.0.0.1:1", []fakeupstream.Image{{Ref: "docker.io/library/deep:1"}}, "")
	res := r.must(1, "lock")
	for _, want := range []string{"nested more than 2 deep", host + "/library/deep"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("lock of an index nested 1000 deep: want %q\n%v", want, res)
		}
	}
	if _, err := os.Stat(filepath.Join(r.dir, "images.lock")); err == nil {
		t.Error("lock wrote images.lock")
	}
	if src.gets > 3 {
		t.Errorf("lock read %d manifests of the chain, want at most 3", src.gets)
	}
}

// TestAmplificationGraph: an index of 1,000 entries that all name one
// index of 100 entries that all name one image, 3 distinct manifests,
// costs 3 manifest GETs at the source, not 101,002; lock counts them
// (manifests = 3) and plan's pull budget says what apply sends.
func TestAmplificationGraph(t *testing.T) {
	src := testregistry.StartT(t)
	dst := testregistry.StartT(t)
	leaf := putImage(t, src.Host(), "library/amp")
	inner := putIndex(t, src.Host(), "library/amp", "inner", repeatDesc(leaf, 100))
	putIndex(t, src.Host(), "library/amp", "1", repeatDesc(inner, 1000))
	f := startFront(t, src)
	r := newRig(t, f.host(), dst.Host(), []fakeupstream.Image{{Ref: "docker.io/library/amp:1"}}, "")
	r.must(0, "lock")
	if img := loadLock(t, filepath.Join(r.dir, "images.lock")).Images[0]; img.Manifests != 3 {
		t.Errorf("the lock counts %d manifests, want 3", img.Manifests)
	}
	res := r.must(0, "plan")
	if want := "  " + f.host() + "  3 for 1 image"; !strings.Contains(res.stdout, want) {
		t.Errorf("plan lacks %q:\n%v", want, res)
	}
	before, _ := f.counts()
	res = r.must(0, "apply", "--auto-approve")
	if !strings.Contains(res.stdout, "1 created") {
		t.Errorf("apply:\n%v", res)
	}
	if gets, _ := f.counts(); gets-before != 3 {
		t.Errorf("apply sent %d manifest GETs to the source, the budget said 3", gets-before)
	}
	puts := 0
	for _, req := range accessLog(t, dst, 0) {
		if k, _, _ := req.Endpoint(); k == testregistry.KindManifest && req.Method == "PUT" {
			puts++
		}
	}
	if puts != 3 {
		t.Errorf("apply wrote %d manifests to the target, want 3", puts)
	}
}

// TestInterruptedApplyCancelsSessions: apply interrupted (SIGINT) while a
// layer's upload is under way ends the upload sessions it opened with
// DELETE before it exits: on the target (Debian's docker-registry), every
// session a POST opened (202) is completed (PUT 201) or deleted (204), and
// no session is left in its _uploads directory. The target's front holds every blob
// PUT (reads it, never forwards it), so that no cancelled PUT is still in
// the registry's hands when the DELETE comes (that race is not covered).
func TestInterruptedApplyCancelsSessions(t *testing.T) {
	src := testregistry.StartT(t)
	store := t.TempDir()
	dst := testregistry.StartT(t, testregistry.WithMode(testregistry.ModeBinary), testregistry.WithStorageDir(store))
	img, err := random.Image(256<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(src.Host()+"/library/int:1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	rc, _ := layers[0].Compressed()
	layer, _ := io.ReadAll(rc)

	// The source sends half the layer, then nothing until the client
	// leaves; the target's front says when the layer's upload starts.
	stalled, putting := make(chan struct{}), make(chan struct{})
	var stallOnce, putOnce sync.Once
	sf := startFront(t, src)
	sf.set(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			return false
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(layer)))
		_, _ = w.Write(layer[:len(layer)/2])
		w.(http.Flusher).Flush()
		stallOnce.Do(func() { close(stalled) })
		<-r.Context().Done()
		return true
	})
	df := startFront(t, dst)
	df.set(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/blobs/uploads/") {
			return false
		}
		if r.URL.Query().Get("digest") == ld.String() {
			putOnce.Do(func() { close(putting) })
		}
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		return true
	})
	r := newRig(t, sf.host(), df.host(), []fakeupstream.Image{{Ref: "docker.io/library/int:1"}}, "")
	r.must(0, "lock")
	mark := len(accessLog(t, dst, 0))

	cmd := exec.Command(binary, "apply", "--auto-approve")
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-stalled
	<-putting
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("interrupted apply: %v, want exit 1\n%s", err, out.String())
	}
	opened, deleted := 0, 0
	for _, req := range accessLog(t, dst, mark) {
		if k, _, _ := req.Endpoint(); k != testregistry.KindBlobUpload {
			continue
		}
		switch {
		case req.Method == http.MethodPost && req.Status == http.StatusAccepted:
			opened++
		case req.Method == http.MethodDelete && req.Status == http.StatusNoContent:
			deleted++
		}
	}
	if opened == 0 || deleted != opened {
		t.Errorf("sessions opened %d, deleted %d: want every one deleted\n%s", opened, deleted, out.String())
	}
	// A session is its startedat file (Resume finds none without it);
	// docker-registry 2.8 leaves a cancelled session's hashstates behind.
	left, _ := filepath.Glob(filepath.Join(store, "docker/registry/v2/repositories/*/*/*/_uploads/*/startedat"))
	if len(left) != 0 {
		t.Errorf("upload sessions left on the target: %v", left)
	}
}

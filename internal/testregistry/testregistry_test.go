package testregistry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushRandom pushes a small random image to host/repo:tag and returns it.
func pushRandom(t *testing.T, host, repo string, opts ...remote.Option) (name.Reference, v1.Image) {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/"+repo+":v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref, img
}

func TestTwoServers(t *testing.T) {
	a, b := StartT(t), StartT(t)
	if a.Host() == b.Host() {
		t.Fatalf("both servers on %s", a.Host())
	}
	if a.URL() != "http://"+a.Host() {
		t.Errorf("URL() = %q", a.URL())
	}
	if a.InProcess() || a.LogPath() == "" {
		t.Fatalf("want docker-registry with a log, got InProcess=%v LogPath=%q", a.InProcess(), a.LogPath())
	}

	ref, img := pushRandom(t, a.Host(), "team/app")
	want, _ := img.Digest()
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("reading back %s: %v", ref, err)
	}
	if d, _ := got.Digest(); d != want {
		t.Errorf("read back digest %s, pushed %s", d, want)
	}
	if _, err := remote.Head(ref.Context().Digest(want.String())); err != nil {
		t.Errorf("HEAD by digest: %v", err)
	}
	other, _ := name.ParseReference(b.Host()+"/team/app:v1", name.Insecure)
	if _, err := remote.Head(other); err == nil {
		t.Errorf("second server has the image pushed to the first")
	}

	reqs, err := a.Requests()
	if err != nil {
		t.Fatal(err)
	}
	if !hasRequest(reqs, http.MethodPut, KindManifest, "team/app", "v1", http.StatusCreated) {
		t.Errorf("no PUT of the manifest in %+v", reqs)
	}
	// random.Image(…, 2) has two layers and a config: three uploads.
	if n := countFinishedUploads(reqs); n != 3 {
		t.Errorf("finished blob uploads = %d, want 3", n)
	}
	if reqsB, _ := b.Requests(); Count(reqsB, http.MethodPut, KindManifest) != 0 {
		t.Errorf("second server logged a manifest PUT: %+v", reqsB)
	}

	workDir, addr := a.workDir, a.Host()
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(workDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("working directory %s still there after Close: %v", workDir, err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port %s not freed by Close: %v", addr, err)
	}
	_ = l.Close()
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func hasRequest(reqs []Request, method string, kind Kind, repo, ref string, status int) bool {
	for _, r := range reqs {
		k, rp, rf := r.Endpoint()
		if r.Method == method && k == kind && rp == repo && rf == ref && r.Status == status {
			return true
		}
	}
	return false
}

func countFinishedUploads(reqs []Request) int {
	n := 0
	for _, r := range reqs {
		if k, _, _ := r.Endpoint(); k == KindBlobUpload && r.Method == http.MethodPut && r.Status == http.StatusCreated {
			n++
		}
	}
	return n
}

func TestWithAddr(t *testing.T) {
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := StartT(t, WithAddr(addr))
	if s.Host() != addr {
		t.Fatalf("Host() = %q, want %q", s.Host(), addr)
	}
	resp, err := http.Get(s.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ = %s", resp.Status)
	}

	// A second registry on the same fixed address must fail, not retry
	// elsewhere: the demo relies on the port it asked for.
	if s2, err := Start(context.Background(), WithAddr(addr)); err == nil {
		_ = s2.Close()
		t.Fatalf("second Start on %s succeeded", addr)
	}
}

func TestStorageDirAndDelete(t *testing.T) {
	dir := t.TempDir()
	s := StartT(t, WithStorageDir(dir), WithDeleteEnabled())
	ref, img := pushRandom(t, s.Host(), "del/me")
	d, _ := img.Digest()
	if err := remote.Delete(ref.Context().Digest(d.String())); err != nil {
		t.Fatalf("DELETE with delete enabled: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "docker", "registry", "v2", "repositories", "del", "me")); err != nil {
		t.Errorf("storage dir not used or not kept after Close: %v", err)
	}
}

func TestDeleteDisabledByDefault(t *testing.T) {
	s := StartT(t)
	ref, img := pushRandom(t, s.Host(), "keep/me")
	d, _ := img.Digest()
	if err := remote.Delete(ref.Context().Digest(d.String())); err == nil {
		t.Fatal("DELETE succeeded without WithDeleteEnabled")
	}
}

func TestHtpasswd(t *testing.T) {
	s := StartT(t, WithHtpasswd(filepath.Join("testdata", "htpasswd")))
	resp, err := http.Get(s.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous GET /v2/ = %s, want 401", resp.Status)
	}
	auth := remote.WithAuth(&authn.Basic{Username: "imagesync", Password: "s3cret"})
	ref, _ := pushRandom(t, s.Host(), "private/app", auth)
	if _, err := remote.Head(ref, auth); err != nil {
		t.Errorf("HEAD with credentials: %v", err)
	}
	if _, err := remote.Head(ref); err == nil {
		t.Errorf("HEAD without credentials succeeded")
	}
}

func TestInProcessFallback(t *testing.T) {
	t.Setenv(BinaryEnv, filepath.Join(t.TempDir(), "no-such-registry"))
	if _, err := Start(context.Background()); !errors.Is(err, ErrNoBinary) {
		t.Fatalf("Start without fallback: err = %v, want ErrNoBinary", err)
	}
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := StartT(t, WithInProcessFallback(), WithAddr(addr))
	if !s.InProcess() || s.LogPath() != "" || s.Host() != addr {
		t.Fatalf("InProcess=%v LogPath=%q Host=%q", s.InProcess(), s.LogPath(), s.Host())
	}
	ref, img := pushRandom(t, s.Host(), "library/demo")
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := img.Digest(); desc.Digest != want {
		t.Errorf("HEAD digest %s, want %s", desc.Digest, want)
	}
	reqs, err := s.Requests()
	if err != nil {
		t.Fatal(err)
	}
	if !hasRequest(reqs, http.MethodPut, KindManifest, "library/demo", "v1", http.StatusCreated) {
		t.Errorf("no manifest PUT recorded: %+v", reqs)
	}
}

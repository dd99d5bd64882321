package testregistry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
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
	forEachMode(t, func(t *testing.T, mode Option) {
		a, b := StartT(t, mode), StartT(t, mode)
		if a.Host() == b.Host() {
			t.Fatalf("both servers on %s", a.Host())
		}
		if a.URL() != "http://"+a.Host() {
			t.Errorf("URL() = %q", a.URL())
		}
		if a.InProcess() == (a.LogPath() != "") {
			t.Fatalf("InProcess=%v but LogPath=%q: docker-registry has a log file, the in-process registry none", a.InProcess(), a.LogPath())
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
	})
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
	forEachMode(t, func(t *testing.T, mode Option) {
		addr, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		s := StartT(t, mode, WithAddr(addr))
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
		if s2, err := Start(context.Background(), mode, WithAddr(addr)); err == nil {
			_ = s2.Close()
			t.Fatalf("second Start on %s succeeded", addr)
		}
	})
}

func TestStorageDirAndDelete(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode Option) {
		dir := t.TempDir()
		s := StartT(t, mode, WithStorageDir(dir), WithDeleteEnabled())
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
	})
}

func TestDeleteDisabledByDefault(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode Option) {
		s := StartT(t, mode)
		ref, img := pushRandom(t, s.Host(), "keep/me")
		d, _ := img.Digest()
		if err := remote.Delete(ref.Context().Digest(d.String())); err == nil {
			t.Fatal("DELETE succeeded without WithDeleteEnabled")
		}
	})
}

func TestHtpasswd(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode Option) {
		s := StartT(t, mode, WithHtpasswd(filepath.Join("testdata", "htpasswd")))
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
	})
}

// forEachMode runs a test against docker-registry and against the
// in-process registry, which a machine without the package uses.
func forEachMode(t *testing.T, test func(t *testing.T, mode Option)) {
	t.Run("binary", func(t *testing.T) { test(t, WithMode(ModeBinary)) })
	t.Run("inprocess", func(t *testing.T) {
		t.Setenv(BinaryEnv, filepath.Join(t.TempDir(), "no-such-registry"))
		test(t, WithMode(ModeInProcess))
	})
}

func TestModes(t *testing.T) {
	t.Setenv(BinaryEnv, filepath.Join(t.TempDir(), "no-such-registry"))
	if _, err := Start(context.Background(), WithMode(ModeBinary)); !errors.Is(err, ErrNoBinary) {
		t.Fatalf("Start(Binary) without the binary: err = %v, want ErrNoBinary", err)
	}
	if _, err := Start(context.Background(), WithMode(ModeBinary), WithIndexValidation("none")); err == nil {
		t.Fatalf("Start(Binary) with index validation: no error")
	}
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := StartT(t, WithAddr(addr))
	if !s.InProcess() || s.LogPath() != "" || s.Host() != addr {
		t.Fatalf("Auto without the binary: InProcess=%v LogPath=%q Host=%q", s.InProcess(), s.LogPath(), s.Host())
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
	t.Setenv(ModeEnv, "inprocess")
	if o := buildOptions(nil); o.mode != ModeInProcess {
		t.Errorf("%s=inprocess: mode %v", ModeEnv, o.mode)
	}
	if o := buildOptions([]Option{WithMode(ModeBinary)}); o.mode != ModeBinary {
		t.Errorf("%s=inprocess overrode an explicit WithMode(ModeBinary): mode %v", ModeEnv, o.mode)
	}
}

// TestIndexValidation checks the setting that decides whether the
// registry accepts an index whose children are missing (a sparse index).
func TestIndexValidation(t *testing.T) {
	for _, tc := range []struct {
		platforms string
		accepted  bool
	}{
		{"", false},
		{"all", false},
		{"none", true},
	} {
		t.Run("platforms="+tc.platforms, func(t *testing.T) {
			opts := []Option{WithMode(ModeInProcess)}
			if tc.platforms != "" {
				opts = append(opts, WithIndexValidation(tc.platforms))
			}
			s := StartT(t, opts...)
			idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: mustRandomImage(t)})
			ref, _ := name.ParseReference(s.Host()+"/sparse/app:v1", name.Insecure)
			// Only the index is written: its child never reaches the registry.
			raw, _ := idx.RawManifest()
			mt, _ := idx.MediaType()
			err := remote.Put(ref, rawManifest{raw: raw, mt: mt})
			if (err == nil) != tc.accepted {
				t.Errorf("PUT of an index without its child: err = %v, want accepted=%v", err, tc.accepted)
			}
			if err != nil && !strings.Contains(err.Error(), "MANIFEST_BLOB_UNKNOWN") {
				t.Errorf("refusal %v does not name the missing child", err)
			}
		})
	}
}

func mustRandomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// rawManifest is a manifest to PUT as it is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

package apply

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/platformfilter"
	"github.com/imagesync/imagesync/internal/referrers"
	isregistry "github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// hooked is go-containerregistry's registry, with or without the
// referrers API, behind a hook that may answer a request itself.
type hooked struct {
	*recorder
	mu   sync.Mutex
	hook func(w http.ResponseWriter, r *http.Request, next http.Handler) bool
}

func newHooked(t *testing.T, api bool) *hooked {
	t.Helper()
	h := &hooked{recorder: &recorder{corrupt: map[string]bool{}}}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(api))
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.recorder.mu.Lock()
		h.requests = append(h.requests, r.Method+" "+r.URL.RequestURI())
		h.recorder.mu.Unlock()
		h.mu.Lock()
		hook := h.hook
		h.mu.Unlock()
		if hook != nil && hook(w, r, reg) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

// attachTo pushes an artifact whose subject is the manifest d of repo
// (OCI referrers; go-containerregistry keeps the fallback index where the
// registry lacks the API) and returns it as the lock pins it.
func attachTo(t *testing.T, repo, d, artifactType string, kind referrers.Kind) referrers.Artifact {
	t.Helper()
	ref, err := name.NewDigest(repo+"@"+d, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	layer := static.NewLayer([]byte(`{"signed":"`+kind+`"}`), types.MediaType(artifactType))
	art, err := mutate.Append(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.MediaType(artifactType)), types.OCIManifestSchema1),
		mutate.Addendum{Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	art = mutate.Subject(art, *desc).(v1.Image)
	ad, _ := art.Digest()
	if err := remote.Write(ref.Context().Digest(ad.String()), art); err != nil {
		t.Fatal(err)
	}
	return referrers.Artifact{Digest: digest.Digest(ad.String()), ArtifactType: artifactType, Kind: kind,
		Subject: digest.Digest(d), Via: referrers.ViaReferrers}
}

// signedIndex pushes a two-platform index to src with a signature on the
// index and an SBOM on its amd64 child; it returns the change to apply.
func signedIndex(t *testing.T, src, dst *hooked) (diff.Change, v1.ImageIndex) {
	t.Helper()
	base, _ := random.Layer(512, types.OCILayer)
	idx := twoPlatformIndex(t, base)
	d := push(t, src.host()+"/library/nginx:1.27", idx)
	im, _ := idx.IndexManifest()
	sig := attachTo(t, src.host()+"/library/nginx", d, referrers.BundleType, referrers.Signature)
	sbom := attachTo(t, src.host()+"/library/nginx", im.Manifests[0].Digest.String(), "application/spdx+json", referrers.SBOM)
	c := change("docker.io/library/nginx:1.27", dst.host()+"/mirror/nginx:1.27", d)
	c.Referrers = []referrers.Artifact{sig, sbom}
	return c, idx
}

// listed returns the digests the target lists as referrers of subject.
func listed(t *testing.T, repo, subject string) []string {
	t.Helper()
	ref, _ := name.NewDigest(repo+"@"+subject, name.Insecure)
	idx, err := remote.Referrers(ref)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	var out []string
	for _, m := range im.Manifests {
		out = append(out, m.Digest.String())
	}
	return out
}

// TestCopyReferrers copies an index's signature and its child's SBOM to a
// target with the referrers API and to one without, where the fallback
// index keeps what another client attached before.
func TestCopyReferrers(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "api", false: "fallback"}[api], func(t *testing.T) {
			src, dst := newHooked(t, true), newHooked(t, api)
			c, _ := signedIndex(t, src, dst)
			repo := dst.host() + "/mirror/nginx"
			// Someone attached an artifact to the index in the target already.
			push(t, dst.host()+"/mirror/nginx:1.27", mustIndex(t, src, c.Digest.String()))
			theirs := attachTo(t, repo, c.Digest.String(), "application/vnd.example.theirs", referrers.Other)

			results := engine(t, src.recorder, dst.recorder).Apply(context.Background(), []diff.Change{c})
			if r := results[0]; r.Err != nil || r.ReferrersCopied != 2 || len(r.ReferrerFailures) != 0 {
				t.Fatalf("result = %+v", r)
			}
			for _, a := range c.Referrers {
				got := listed(t, repo, a.Subject.String())
				if !containsString(got, a.Digest.String()) {
					t.Errorf("%s of %s not listed: %v", a.Kind, a.Subject, got)
				}
				raw := getRaw(t, repo+"@"+a.Digest.String())
				want := getRaw(t, src.host()+"/library/nginx@"+a.Digest.String())
				if !bytes.Equal(raw, want) {
					t.Errorf("%s re-serialized", a.Digest)
				}
			}
			if got := listed(t, repo, c.Digest.String()); !containsString(got, theirs.Digest.String()) || len(got) != 2 {
				t.Errorf("the index's referrers are %v, want theirs and ours", got)
			}
			if n := dst.count("PUT /v2/mirror/nginx/manifests/sha256-", ""); (n > 0) == api {
				t.Errorf("%d writes of a fallback tag, with the referrers API %v", n, api)
			}
		})
	}
}

// mustIndex reads the index d of src back, to push it elsewhere.
func mustIndex(t *testing.T, src *hooked, d string) v1.ImageIndex {
	t.Helper()
	ref, _ := name.NewDigest(src.host()+"/library/nginx@"+d, name.Insecure)
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func getRaw(t *testing.T, ref string) []byte {
	t.Helper()
	r, _ := name.ParseReference(ref, name.Insecure)
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	return desc.Manifest
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestFallbackIndexRace: another writer replaces the fallback index right
// after ours is written, dropping our entry; the merge runs again and
// keeps both.
func TestFallbackIndexRace(t *testing.T) {
	src, dst := newHooked(t, true), newHooked(t, false)
	c, _ := signedIndex(t, src, dst)
	c.Referrers = c.Referrers[:1]
	repo := dst.host() + "/mirror/nginx"
	var once sync.Once
	var theirs referrers.Artifact
	dst.hook = func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/sha256-") {
			return false
		}
		next.ServeHTTP(w, r)
		once.Do(func() {
			dst.mu.Lock()
			dst.hook = nil
			dst.mu.Unlock()
			// The other writer read the index before ours was written.
			dg, _ := name.NewTag(repo+":"+isregistry.FallbackTag(c.Digest), name.Insecure)
			other, _ := random.Image(16, 1)
			if err := remote.Write(dg.Context().Tag("other"), other); err != nil {
				t.Error(err)
			}
			od, _ := other.Digest()
			theirs.Digest = digest.Digest(od.String())
			idx := mutate.IndexMediaType(mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: other}), types.OCIImageIndex)
			if err := remote.WriteIndex(dg, idx); err != nil {
				t.Error(err)
			}
		})
		return true
	}
	results := engine(t, src.recorder, dst.recorder).Apply(context.Background(), []diff.Change{c})
	if r := results[0]; r.Err != nil || r.ReferrersCopied != 1 {
		t.Fatalf("result = %+v", r)
	}
	got := listed(t, repo, c.Digest.String())
	if len(got) != 2 || !containsString(got, theirs.Digest.String()) || !containsString(got, c.Referrers[0].Digest.String()) {
		t.Errorf("fallback index lists %v, want theirs and ours", got)
	}
}

// TestReferrerRefused: a target that refuses artifact manifests fails
// them with the registry's answer, and the image lands.
func TestReferrerRefused(t *testing.T) {
	src, dst := newHooked(t, true), newHooked(t, false)
	c, _ := signedIndex(t, src, dst)
	dst.hook = func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !bytes.Contains(body, []byte(`"subject"`)) {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"unknown field subject"}]}`)
		return true
	}
	results := engine(t, src.recorder, dst.recorder).Apply(context.Background(), []diff.Change{c})
	r := results[0]
	if r.Err != nil || r.ReferrersCopied != 0 || len(r.ReferrerFailures) != 2 {
		t.Fatalf("result = %+v", r)
	}
	if msg := r.ReferrerFailures[0].Err.Error(); !strings.Contains(msg, "the target refused the artifact") || !strings.Contains(msg, "MANIFEST_INVALID") {
		t.Errorf("failure = %q", msg)
	}
	if d := headOf(t, c.Target.String()); d != c.Digest.String() {
		t.Errorf("the image did not land: %s", d)
	}
}

// engineTo is an engine copying from the registry at srcURL (standing in
// for docker.io) to dstHost.
func scopeEngine(t *testing.T, srcURL, dstHost string) *Engine {
	t.Helper()
	hcl := `target { registry = "` + dstHost + `/mirror" }
registry "docker.io" { mirrors = ["` + srcURL + `"] }`
	cfg, diags := config.Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(hcl))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return New(isregistry.New(cfg, isregistry.WithKeychain(authn.NewMultiKeychain())))
}

// missing reports whether a registry answers 404 for a reference.
func missing(t *testing.T, ref string) bool {
	t.Helper()
	r, _ := name.ParseReference(ref, name.Insecure)
	_, err := remote.Head(r)
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

func headOf(t *testing.T, ref string) string {
	t.Helper()
	r, _ := name.ParseReference(ref, name.Insecure)
	desc, err := remote.Head(r)
	if err != nil {
		t.Fatal(err)
	}
	return desc.Digest.String()
}

// TestPlatformModes mirrors amd64 only: filter writes the index of the
// kept child (the locked target_digest), sparse the original bytes; a
// registry refusing the sparse one fails the image naming filter.
func TestPlatformModes(t *testing.T) {
	src := newHooked(t, true)
	base, _ := random.Layer(512, types.OCILayer)
	idx := twoPlatformIndex(t, base)
	d := push(t, src.host()+"/library/nginx:1.27", idx)
	im, _ := idx.IndexManifest()
	amd, arm := im.Manifests[0].Digest.String(), im.Manifests[1].Digest.String()
	raw, _ := idx.RawManifest()
	sel, err := platformfilter.Select(im.Manifests, []string{"linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	_, filtered, err := platformfilter.Filter(raw, sel.Keeps)
	if err != nil {
		t.Fatal(err)
	}
	// go-containerregistry's registry refuses an index whose children are
	// missing, as most do; the distribution registry accepts it when its
	// index validation is off.
	lenient := testregistry.StartT(t, testregistry.WithIndexValidation("none"))
	tests := []struct {
		mode    config.PlatformMode
		dst     string // target host; "" for go-containerregistry's registry
		want    string // digest of the tag, "" when the image fails
		wantErr string
	}{
		{config.PlatformFilter, "", filtered.String(), ""},
		{config.PlatformSparse, lenient.Host(), d, ""},
		{config.PlatformSparse, "", "", `set platform_mode = "filter" for this image`},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode)+map[bool]string{true: "-refused"}[tt.want == ""], func(t *testing.T) {
			dst := newHooked(t, false)
			host := dst.host()
			if tt.dst != "" {
				host = tt.dst
			}
			c := change("docker.io/library/nginx:1.27", host+"/mirror/nginx:1.27", d)
			c.PlatformMode, c.MirroredPlatforms = tt.mode, []string{"linux/amd64"}
			if tt.mode == config.PlatformFilter {
				c.FilteredDigest = filtered
			}
			src.reset()
			r := scopeEngine(t, src.URL, host).Apply(context.Background(), []diff.Change{c})[0]
			if tt.want == "" {
				if r.Err == nil || !strings.Contains(r.Err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", r.Err, tt.wantErr)
				}
				return
			}
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if got := headOf(t, c.Target.String()); got != tt.want {
				t.Errorf("tag resolves to %s, want %s", got, tt.want)
			}
			headOf(t, host+"/mirror/nginx@"+amd)
			if missing(t, host+"/mirror/nginx@"+arm) != true || src.count("GET /v2/library/nginx/manifests/"+arm, "") != 0 {
				t.Errorf("the arm64 child was read or written")
			}
		})
	}
	// A lock whose target_digest does not match is refused.
	dst := newHooked(t, false)
	c := change("docker.io/library/nginx:1.27", dst.host()+"/mirror/nginx:1.27", d)
	c.PlatformMode, c.MirroredPlatforms, c.FilteredDigest = config.PlatformFilter, []string{"linux/amd64"}, digest.FromString("other")
	if r := engine(t, src.recorder, dst.recorder).Apply(context.Background(), []diff.Change{c})[0]; r.Err == nil ||
		!strings.Contains(r.Err.Error(), `run "imagesync lock" again`) {
		t.Errorf("mismatched target_digest: %v", r.Err)
	}
}

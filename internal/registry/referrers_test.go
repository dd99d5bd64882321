package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

// TestReferrers lists a signature attached to an image on a registry with
// the referrers API and on one without it (go-containerregistry writes the
// fallback tag's index there, as cosign does).
func TestReferrers(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "api", false: "fallback"}[api], func(t *testing.T) {
			srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(api)))
			t.Cleanup(srv.Close)
			host := srv.Listener.Addr().String()
			img := randomImage(t, 1)
			tag, err := name.NewTag(host+"/a/b:1", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(tag, img); err != nil {
				t.Fatal(err)
			}
			subject := hexOf(t, img)
			desc, err := partial.Descriptor(img)
			if err != nil {
				t.Fatal(err)
			}
			sig := mutate.MediaType(mutate.ConfigMediaType(empty.Image, "application/vnd.dev.cosign.artifact.sig.v1+json"), types.OCIManifestSchema1)
			sig = mutate.Subject(sig, *desc).(v1.Image)
			sigRef, err := name.NewDigest(host+"/a/b@"+hexOf(t, sig).String(), name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(sigRef, sig); err != nil {
				t.Fatal(err)
			}

			c := testClient(t, "", "")
			ref := imageref.MustParse(host + "/a/b:1")
			list, err := c.TargetReferrers(context.Background(), ref, subject)
			if err != nil {
				t.Fatal(err)
			}
			if list.API != api || len(list.Descriptors) != 1 || list.Descriptors[0].Digest.String() != hexOf(t, sig).String() ||
				list.Descriptors[0].ArtifactType != "application/vnd.dev.cosign.artifact.sig.v1+json" {
				t.Errorf("list = %+v", list)
			}
			if !api && (list.Fallback == nil || list.FallbackDigest != digest.FromBytes(list.Fallback)) {
				t.Errorf("fallback index not returned: %+v", list)
			}
			none, err := c.TargetReferrers(context.Background(), ref, digest.FromString("nothing"))
			if err != nil || len(none.Descriptors) != 0 || none.Fallback != nil {
				t.Errorf("referrers of a manifest without any: %+v, %v", none, err)
			}
			got, err := c.TargetHasManifest(context.Background(), ref, FallbackTag(subject))
			if api && !isNotFound(err) {
				t.Errorf("the API registry has a fallback tag: %s, %v", got, err)
			}
			if !api && (err != nil || got != list.FallbackDigest) {
				t.Errorf("fallback tag = %s, %v", got, err)
			}
		})
	}
}

func TestFallbackTag(t *testing.T) {
	d := digest.FromString("x")
	if got := FallbackTag(d); got != "sha256-"+d.Encoded() {
		t.Errorf("FallbackTag = %s", got)
	}
}

// referrersPages serves the referrers API of subject in pages: page i
// (from 0) lists entries[i] and links to link(i) ("" for none).
func referrersPages(t *testing.T, subject digest.Digest, entries [][]v1.Descriptor, link func(i int, host string) string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var srv *httptest.Server
	srv, n := fakeRegistry(t, false, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/a/b/referrers/"+subject.String() {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		i, _ := strconv.Atoi(r.URL.Query().Get("page"))
		data, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: entries[i%len(entries)]})
		if l := link(i, hostOf(srv)); l != "" {
			w.Header().Set("Link", l)
		}
		w.Header().Set("Content-Type", ociIndex)
		_, _ = w.Write(data)
	})
	return srv, n
}

func referrerDesc(note string) v1.Descriptor {
	h, _ := v1.NewHash(digest.FromString(note).String())
	return v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 10, Digest: h, ArtifactType: "application/vnd.example+" + note}
}

// TestReferrersPages: a listing's pages are followed through their Link
// headers, so that what page 2 lists is found; a Link that loops, more
// pages than MaxReferrersPages, a Link to another host, and a listing
// that names the subject itself are errors naming the registry.
func TestReferrersPages(t *testing.T) {
	subject := digest.FromString("subject")
	self, _ := v1.NewHash(subject.String())
	nextPage := func(i int) string { return fmt.Sprintf(`</v2/a/b/referrers/%s?page=%d>; rel="next"`, subject, i) }
	for _, tc := range []struct {
		name    string
		entries [][]v1.Descriptor
		link    func(i int, host string) string
		want    int    // descriptors found
		wantErr string // or the error
	}{
		{name: "signature on page 2", entries: [][]v1.Descriptor{{referrerDesc("a")}, {referrerDesc("sig")}},
			link: func(i int, _ string) string {
				if i == 0 {
					return nextPage(1)
				}
				return ""
			}, want: 2},
		{name: "a Link that loops", entries: [][]v1.Descriptor{{referrerDesc("a")}, {referrerDesc("b")}},
			link: func(i int, _ string) string { return nextPage((i + 1) % 2) }, wantErr: "the Link headers loop back"},
		{name: "no last page", entries: [][]v1.Descriptor{{referrerDesc("a")}},
			link: func(i int, _ string) string { return nextPage(i + 1) }, wantErr: "more than 16 pages"},
		{name: "a Link to another host", entries: [][]v1.Descriptor{{referrerDesc("a")}},
			link: func(int, string) string { return `<http://elsewhere.example/v2/a/b/referrers/x>; rel="next"` }, wantErr: "names another host"},
		{name: "the subject lists itself", entries: [][]v1.Descriptor{{referrerDesc("a"), {MediaType: types.OCIManifestSchema1, Size: 10, Digest: self}}},
			link: func(int, string) string { return "" }, wantErr: "names the subject itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := referrersPages(t, subject, tc.entries, tc.link)
			list, err := repoOn(t, testClient(t, "", ""), srv).Referrers(context.Background(), subject)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), hostOf(srv)+"/a/b") {
					t.Fatalf("err = %v, want %q naming the registry", err, tc.wantErr)
				}
				if n.Load() > MaxReferrersPages {
					t.Errorf("%d requests", n.Load())
				}
				return
			}
			if err != nil || !list.API || len(list.Descriptors) != tc.want {
				t.Fatalf("list %+v, err %v; want %d descriptors", list, err, tc.want)
			}
		})
	}
}

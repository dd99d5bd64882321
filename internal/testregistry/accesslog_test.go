package testregistry

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata/registry-2.8.2.log is the complete log (logrus lines on stderr
// and access lines on stdout, interleaved) of a docker-registry 2.8.2 that
// served a go-containerregistry push, pulls, a 404, a tag list, a catalog
// request with an escaped user agent, and a delete.
func TestParseAccessLogSample(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "registry-2.8.2.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reqs, err := ParseAccessLog(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 28 {
		t.Fatalf("parsed %d access lines, want 28", len(reqs))
	}
	first := Request{Method: "GET", Path: "/v2/", Status: 200, Bytes: 2, UserAgent: probeUserAgent}
	if reqs[0] != first {
		t.Errorf("first request = %+v, want %+v", reqs[0], first)
	}
	if n := len(withoutProbes(reqs)); n != 27 {
		t.Errorf("without probes: %d requests, want 27", n)
	}

	counts := []struct {
		method string
		kind   Kind
		want   int
	}{
		{"PUT", KindManifest, 1},
		{"POST", KindBlobUpload, 3},
		{"PATCH", KindBlobUpload, 3},
		{"PUT", KindBlobUpload, 3},
		{"HEAD", KindBlob, 3},
		{"GET", KindBlob, 1},
		{"", KindPing, 7},
		{"GET", KindTags, 1},
		{"GET", KindCatalog, 1},
		{"DELETE", KindManifest, 1},
		{"", KindOther, 0},
	}
	for _, c := range counts {
		if got := Count(reqs, c.method, c.kind); got != c.want {
			t.Errorf("Count(%q, %v) = %d, want %d", c.method, c.kind, got, c.want)
		}
	}

	blob := findRequest(reqs, "GET", KindBlob)
	if blob.Status != http.StatusOK || blob.Bytes != 1227 || blob.UserAgent != "go-containerregistry" {
		t.Errorf("blob GET = %+v", blob)
	}
	put := findRequest(reqs, "PUT", KindBlobUpload)
	q, err := url.ParseQuery(put.Query)
	if err != nil || !strings.HasPrefix(q.Get("digest"), "sha256:") || put.Status != http.StatusCreated {
		t.Errorf("upload PUT = %+v (digest %q, err %v)", put, q.Get("digest"), err)
	}
	if ua := findRequest(reqs, "GET", KindCatalog).UserAgent; ua != `curl/8.0 "quoted"` {
		t.Errorf("escaped user agent parsed as %q", ua)
	}
}

func findRequest(reqs []Request, method string, kind Kind) Request {
	for _, r := range reqs {
		if k, _, _ := r.Endpoint(); k == kind && r.Method == method {
			return r
		}
	}
	return Request{}
}

func TestParseAccessLogSkipsOtherLines(t *testing.T) {
	log := strings.Join([]string{
		`time="2026-11-27T17:05:37Z" level=info msg="listening on 127.0.0.1:5000" version=2.8.2+ds1`,
		``,
		`garbage`,
		`::1 - - [27/Nov/2026:17:05:37 +0000] "HEAD /v2/a/manifests/v1 HTTP/1.1" 404 - "" "x"`,
	}, "\n")
	reqs, err := ParseAccessLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := Request{Method: "HEAD", Path: "/v2/a/manifests/v1", Status: 404, Bytes: 0, UserAgent: "x"}
	if len(reqs) != 1 || reqs[0] != want {
		t.Fatalf("got %+v, want [%+v]", reqs, want)
	}
}

func TestEndpoint(t *testing.T) {
	cases := []struct {
		path       string
		kind       Kind
		repo, ref  string
		kindString string
	}{
		{"/v2/", KindPing, "", "", "ping"},
		{"/v2/_catalog", KindCatalog, "", "", "catalog"},
		{"/v2/library/nginx/tags/list", KindTags, "library/nginx", "", "tags"},
		{"/v2/library/nginx/manifests/1.27-alpine", KindManifest, "library/nginx", "1.27-alpine", "manifest"},
		{"/v2/a/manifests/sha256:abc", KindManifest, "a", "sha256:abc", "manifest"},
		{"/v2/a/b/c/blobs/sha256:abc", KindBlob, "a/b/c", "sha256:abc", "blob"},
		{"/v2/a/blobs/uploads/", KindBlobUpload, "a", "", "blob-upload"},
		{"/v2/a/blobs/uploads/1234-uuid", KindBlobUpload, "a", "1234-uuid", "blob-upload"},
		// Repository components may repeat the API's own words.
		{"/v2/blobs/manifests/v1", KindManifest, "blobs", "v1", "manifest"},
		{"/v2/uploads/blobs/uploads/", KindBlobUpload, "uploads", "", "blob-upload"},
		{"/v2/x/manifests/blobs/sha256:abc", KindBlob, "x/manifests", "sha256:abc", "blob"},
		{"/v2/a/referrers/sha256:abc", KindReferrers, "a", "sha256:abc", "referrers"},
		{"/v2/a/manifests/", KindOther, "", "", "other"},
		{"/debug/vars", KindOther, "", "", "other"},
	}
	for _, c := range cases {
		kind, repo, ref := Request{Path: c.path}.Endpoint()
		if kind != c.kind || repo != c.repo || ref != c.ref || kind.String() != c.kindString {
			t.Errorf("Endpoint(%q) = %v, %q, %q; want %v, %q, %q", c.path, kind, repo, ref, c.kind, c.repo, c.ref)
		}
	}
}

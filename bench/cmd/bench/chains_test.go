package main

import (
	"testing"
	"time"

	"github.com/imagesync/imagesync/bench/benchset"
	"github.com/imagesync/imagesync/bench/wanproxy"
)

// TestChains: requests are attributed to the images whose repository and
// content they name, upload sessions through their final PUT, and each
// image's chain counts only its own requests in a row.
func TestChains(t *testing.T) {
	inv := benchset.NewInventory()
	inv.Images["docker.io/library/a:1"] = &benchset.Pushed{Ref: "docker.io/library/a:1", Path: "library/a", Tag: "1",
		Manifests: []benchset.Blob{{Digest: "sha256:aa"}}, Blobs: []benchset.Blob{{Digest: "sha256:base"}, {Digest: "sha256:a1"}}}
	inv.Images["docker.io/library/b:1"] = &benchset.Pushed{Ref: "docker.io/library/b:1", Path: "library/b", Tag: "1",
		Manifests: []benchset.Blob{{Digest: "sha256:bb"}}, Blobs: []benchset.Blob{{Digest: "sha256:base"}}}
	b := &bench{inv: inv}
	ws := &workspace{pairs: []pair{
		{ref: "docker.io/library/a:1", dst: "127.0.0.1:9/a:1"},
		{ref: "docker.io/library/b:1", dst: "127.0.0.1:9/b:1"},
	}}
	a := b.newAttributor(ws)
	at := func(s int) time.Time { return time.Unix(100, 0).Add(time.Duration(s) * time.Second) }
	ex := func(proxy, method, path, query, location string, start int) wanproxy.Exchange {
		return wanproxy.Exchange{Proxy: proxy, Method: method, Path: path, Query: query, Location: location, Start: at(start), End: at(start).Add(time.Second - 1)}
	}
	run := []wanproxy.Exchange{
		ex("target", "GET", "/v2/", "", "", 0),               // nobody's
		ex("target", "HEAD", "/v2/a/manifests/1", "", "", 1), // a
		ex("source", "GET", "/v2/library/a/manifests/sha256:aa", "", "", 2),
		ex("target", "POST", "/v2/a/blobs/uploads/", "", "/v2/a/blobs/uploads/u1?_state=x", 3),
		ex("source", "GET", "/v2/library/a/blobs/sha256:a1", "", "", 4),
		ex("target", "PUT", "/v2/a/blobs/uploads/u1", "_state=x&digest=sha256%3Aa1", "", 5),
		ex("target", "PUT", "/v2/a/manifests/1", "", "", 6),
		// b: the shared base mounted from a, its manifest: b's, not a's.
		ex("target", "POST", "/v2/b/blobs/uploads/", "from=a&mount=sha256%3Abase", "", 3),
		ex("target", "PUT", "/v2/b/manifests/1", "", "", 4),
	}
	st := a.chains(run)
	if st.unattributed != 1 {
		t.Errorf("unattributed = %d, want the ping only", st.unattributed)
	}
	if st.max != 6 || st.median != 6 {
		t.Errorf("chains: median %d, longest %d; want a's 6 (HEAD, GET, POST, GET, PUT, PUT) as the longest and the median of [2 6]", st.median, st.max)
	}
	if got := a.owners(run[3], uploadSessions(run)); len(got) != 1 || got[0] != "docker.io/library/a:1" {
		t.Errorf("the POST of a's session belongs to %v", got)
	}
	if got := a.owners(run[7], nil); len(got) != 1 || got[0] != "docker.io/library/b:1" {
		t.Errorf("b's mount belongs to %v", got)
	}
}

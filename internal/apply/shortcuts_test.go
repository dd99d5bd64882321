package apply

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// distTarget is the distribution registry (in-process, as a machine
// without docker-registry runs it: blobs per repository, mounts honoured)
// behind a recording proxy that can refuse mounts the way a registry that
// does not mount does: it opens an upload session instead (202).
type distTarget struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // "METHOD path?query -> status"
	refuse   bool
}

func newDistTarget(t *testing.T, refuseMounts bool) *distTarget {
	t.Helper()
	reg := testregistry.StartT(t, testregistry.WithMode(testregistry.ModeInProcess), testregistry.WithDeleteEnabled())
	u, _ := url.Parse(reg.URL())
	rp := httputil.NewSingleHostReverseProxy(u)
	d := &distTarget{refuse: refuseMounts}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.refuse && r.Method == http.MethodPost && r.URL.Query().Has("mount") {
			q := r.URL.Query()
			q.Del("mount")
			q.Del("from")
			r.URL.RawQuery = q.Encode()
		}
		sw := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		rp.ServeHTTP(sw, r)
		d.mu.Lock()
		d.requests = append(d.requests, r.Method+" "+r.URL.RequestURI()+" -> "+http.StatusText(sw.code))
		d.mu.Unlock()
	}))
	t.Cleanup(d.Close)
	return d
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

func (d *distTarget) host() string { return strings.TrimPrefix(d.URL, "http://") }

func (d *distTarget) reset() {
	d.mu.Lock()
	d.requests = nil
	d.mu.Unlock()
}

// count returns how many requests start with prefix and contain every sub.
func (d *distTarget) count(prefix string, subs ...string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, r := range d.requests {
		ok := strings.HasPrefix(r, prefix)
		for _, s := range subs {
			ok = ok && strings.Contains(r, s)
		}
		if ok {
			n++
		}
	}
	return n
}

func escaped(d string) string { return strings.Replace(d, ":", "%3A", 1) }

// engineTo is engine() for a target that is not a recorder.
func engineTo(t *testing.T, src *recorder, dstHost string, opts ...Option) *Engine {
	t.Helper()
	return engine(t, src, &recorder{Server: &httptest.Server{URL: "http://" + dstHost}}, opts...)
}

// TestMountOrUpload: on a registry that mounts, a blob another repository
// of the run holds is placed with one POST ?mount=&from= answered 201, and
// once the host has shown that it mounts, a blob the repository lacks is
// placed with one POST too (no HEAD first), whose 202 session takes the
// upload.
func TestMountOrUpload(t *testing.T) {
	src, dst := newRecorder(t), newDistTarget(t, false)
	base := mustLayer(t)
	var changes []diff.Change
	for _, repo := range []string{"a", "b", "c"} {
		d := push(t, src.host()+"/library/"+repo+":1", twoPlatformIndex(t, base))
		changes = append(changes, change("docker.io/library/"+repo+":1", dst.host()+"/mirror/"+repo+":1", d))
	}
	results := engineTo(t, src, dst.host(), WithParallelism(1)).Apply(context.Background(), changes)
	for _, r := range results {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Change.Target, r.Err)
		}
	}
	bd, _ := base.Digest()
	if n := dst.count("POST /v2/mirror/b/blobs/uploads/", "from=mirror%2Fa", "mount="+escaped(bd.String()), "-> Created"); n != 1 {
		t.Errorf("b's shared layer: %d mounts from a answered 201, want 1", n)
	}
	if n := dst.count("PUT /v2/mirror/b/blobs/uploads/", escaped(bd.String())); n != 0 {
		t.Errorf("b's shared layer was uploaded %d times", n)
	}
	if results[1].BlobsMounted != 1 {
		t.Errorf("b: %+v, want the shared layer mounted", results[1])
	}
	// c comes after the host answered a mount with 201: no HEAD at all,
	// one POST per blob, each new blob uploaded into its POST's session.
	if n := dst.count("HEAD /v2/mirror/c/blobs/"); n != 0 {
		t.Errorf("%d HEADs of c's blobs after the host showed it mounts", n)
	}
	posts, puts := dst.count("POST /v2/mirror/c/blobs/uploads/"), dst.count("PUT /v2/mirror/c/blobs/uploads/")
	// (The layer both children share is placed once: the second finds it
	// placed, without a request.)
	if want := results[2].BlobsUploaded + results[2].BlobsMounted; posts != want || puts != results[2].BlobsUploaded {
		t.Errorf("c: %d POSTs and %d upload PUTs for %+v", posts, puts, results[2])
	}
	checkMirrored(t, changes)
}

// TestMountRefusedFallsBackToUpload: a registry that answers the mount with
// an upload session (202) gets the blob uploaded into that session, once.
func TestMountRefusedFallsBackToUpload(t *testing.T) {
	src, dst := newRecorder(t), newDistTarget(t, true)
	base := mustLayer(t)
	var changes []diff.Change
	for _, repo := range []string{"a", "b"} {
		d := push(t, src.host()+"/library/"+repo+":1", twoPlatformIndex(t, base))
		changes = append(changes, change("docker.io/library/"+repo+":1", dst.host()+"/mirror/"+repo+":1", d))
	}
	results := engineTo(t, src, dst.host(), WithParallelism(1)).Apply(context.Background(), changes)
	for _, r := range results {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Change.Target, r.Err)
		}
	}
	bd, _ := base.Digest()
	if n := dst.count("POST /v2/mirror/b/blobs/uploads/", "-> Created"); n != 0 {
		t.Errorf("%d blobs mounted into b by a registry that refuses mounts", n)
	}
	if n := dst.count("PUT /v2/mirror/b/blobs/uploads/", escaped(bd.String()), "-> Created"); n != 1 {
		t.Errorf("the refused layer was uploaded into b %d times, want 1", n)
	}
	// Every upload went into a session its mount-or-upload POST opened.
	if posts, puts := dst.count("POST /v2/mirror/b/blobs/uploads/"), dst.count("PUT /v2/mirror/b/blobs/uploads/"); posts != puts {
		t.Errorf("b: %d POSTs for %d uploads", posts, puts)
	}
	checkMirrored(t, changes)
}

// checkMirrored fails unless every change's target resolves to its digest
// and every blob of it is readable there.
func checkMirrored(t *testing.T, changes []diff.Change) {
	t.Helper()
	for _, c := range changes {
		ref, err := name.ParseReference(c.Target.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Get(ref)
		if err != nil || desc.Digest.String() != c.Digest.String() {
			t.Errorf("%s: %v, %v", c.Target, desc, err)
			continue
		}
		idx, err := desc.ImageIndex()
		if err != nil {
			t.Errorf("%s: %v", c.Target, err)
			continue
		}
		im, _ := idx.IndexManifest()
		for _, m := range im.Manifests {
			img, err := idx.Image(m.Digest)
			if err != nil {
				t.Errorf("%s: child %s: %v", c.Target, m.Digest, err)
				continue
			}
			layers, _ := img.Layers()
			for _, l := range layers {
				rc, err := l.Compressed()
				if err != nil {
					t.Errorf("%s: a layer of %s: %v", c.Target, m.Digest, err)
					continue
				}
				rc.Close()
			}
		}
	}
}

// TestAliasOnlyTagged: an image whose digest the plan saw under another
// tag of the same repository is tagged from the target itself: one GET of
// its manifest there, one PUT, nothing from the source.
func TestAliasOnlyTagged(t *testing.T) {
	src, dst := newRecorder(t), newRecorder(t)
	d := push(t, src.host()+"/library/nginx:1.27", twoPlatformIndex(t, mustLayer(t)))
	first := change("docker.io/library/nginx:1.27", dst.host()+"/mirror/nginx:1.27", d)
	if r := engine(t, src, dst).Apply(context.Background(), []diff.Change{first}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	src.reset()
	dst.reset()
	alias := change("docker.io/library/nginx:1.27.3", dst.host()+"/mirror/nginx:1.27.3", d)
	known := []Known{{Target: first.Target, Digest: first.Digest}}
	r := engine(t, src, dst, WithKnownImages(known)).Apply(context.Background(), []diff.Change{alias})
	if r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if n := len(src.requests); n != 0 {
		t.Errorf("%d source requests for an alias: %v", n, src.requests)
	}
	dst.mu.Lock()
	got := append([]string(nil), dst.requests...)
	dst.mu.Unlock()
	want := []string{"GET /v2/mirror/nginx/manifests/" + d, "PUT /v2/mirror/nginx/manifests/1.27.3"}
	var sent []string
	for _, req := range got {
		if req != "GET /v2/" {
			sent = append(sent, req)
		}
	}
	if strings.Join(sent, "\n") != strings.Join(want, "\n") {
		t.Errorf("target requests:\n%s\nwant:\n%s", strings.Join(sent, "\n"), strings.Join(want, "\n"))
	}
	checkMirrored(t, []diff.Change{alias})
}

// TestAliasPlanOlderThanTarget: the plan saw the digest under another tag,
// but the target lost that manifest since: the existence check made again
// at apply time finds it gone, and the image is copied in full, so that
// the new tag never points at a manifest without its blobs.
func TestAliasPlanOlderThanTarget(t *testing.T) {
	src, dst := newRecorder(t), newRecorder(t)
	d := push(t, src.host()+"/library/nginx:1.27", twoPlatformIndex(t, mustLayer(t)))
	first := change("docker.io/library/nginx:1.27", dst.host()+"/mirror/nginx:1.27", d)
	if r := engine(t, src, dst).Apply(context.Background(), []diff.Change{first}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	// After the plan: the manifest is deleted from the target.
	for _, ref := range []string{d, "1.27"} {
		req, _ := http.NewRequest(http.MethodDelete, dst.URL+"/v2/mirror/nginx/manifests/"+ref, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	src.reset()
	dst.reset()
	alias := change("docker.io/library/nginx:1.27.3", dst.host()+"/mirror/nginx:1.27.3", d)
	known := []Known{{Target: first.Target, Digest: first.Digest}} // what the plan saw
	r := engine(t, src, dst, WithKnownImages(known)).Apply(context.Background(), []diff.Change{alias})
	if r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if n := src.count("GET /v2/library/nginx/manifests/", ""); n == 0 {
		t.Error("the image was not read from the source: not copied in full")
	}
	if n := dst.count("GET /v2/mirror/nginx/manifests/"+d, ""); n != 1 {
		t.Errorf("the manifest the plan saw was looked for %d times in the target, want 1", n)
	}
	if n := dst.count("PUT /v2/mirror/nginx/manifests/sha256:", ""); n != 2 {
		t.Errorf("%d children pushed, want both", n)
	}
	checkMirrored(t, []diff.Change{alias})
}

// TestAliasOnlyInSameRepository: the same digest in another repository is
// not an alias (its blobs are mounted by the full copy instead), and only
// an image to copy is.
func TestAliasOnlyInSameRepository(t *testing.T) {
	d := digest.Digest("sha256:" + strings.Repeat("a", 64))
	e := New(nil, WithKnownImages([]Known{{Target: imageref.MustParse("r.example/m/nginx:1"), Digest: d}}))
	for _, tc := range []struct {
		target string
		want   bool
	}{
		{"r.example/m/nginx:2", true},
		{"r.example/m/nginx:1", false},
		{"r.example/m/other:2", false},
		{"r.example/m/nginx@sha256:" + strings.Repeat("a", 64), false},
	} {
		c := diff.Change{Target: imageref.MustParse(tc.target), Digest: d, Action: diff.Create}
		if got := e.aliasOf(c); got != tc.want {
			t.Errorf("aliasOf(%s) = %v", tc.target, got)
		}
		// A change that copies referrers only is never a tag-only copy:
		// the referrers would be left behind.
		c.Action = diff.Referrers
		if e.aliasOf(c) {
			t.Errorf("aliasOf(%s, referrers only) = true", tc.target)
		}
	}
}

// TestUpdatePlanOlderThanTarget: for an update, the image the plan saw
// under the tag is read from the target to guess which blobs are there;
// the target lost one of them since. The guess only spares a download:
// every blob is still asked for, the lost one is uploaded again, and the
// new tag gets all its blobs.
func TestUpdatePlanOlderThanTarget(t *testing.T) {
	src, dst := newRecorder(t), newDistTarget(t, false)
	base := mustLayer(t)
	bd, _ := base.Digest()
	old := push(t, src.host()+"/library/x:1", twoPlatformIndex(t, base))
	first := change("docker.io/library/x:1", dst.host()+"/mirror/x:1", old)
	if r := engineTo(t, src, dst.host()).Apply(context.Background(), []diff.Change{first}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	// After the plan: the repository loses the shared layer.
	req, _ := http.NewRequest(http.MethodDelete, dst.URL+"/v2/mirror/x/blobs/"+bd.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete the layer: %s", resp.Status)
	}
	moved := push(t, src.host()+"/library/x:1", twoPlatformIndex(t, base))
	update := change("docker.io/library/x:1", dst.host()+"/mirror/x:1", moved)
	update.Action, update.CurrentDigest = diff.Update, digest.Digest(old) // what the plan saw
	dst.reset()
	r := engineTo(t, src, dst.host()).Apply(context.Background(), []diff.Change{update})
	if r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if n := dst.count("GET /v2/mirror/x/manifests/"+old, "-> OK"); n != 1 {
		t.Errorf("the current image was read %d times from the target, want once", n)
	}
	if n := dst.count("PUT /v2/mirror/x/blobs/uploads/", escaped(bd.String()), "-> Created"); n != 1 {
		t.Errorf("the lost layer was uploaded %d times, want once", n)
	}
	checkMirrored(t, []diff.Change{update})
}

// TestUpdateDownloadsOnlyNewBlobs: the blobs the current image lists are
// asked for, not downloaded; the new ones are downloaded once, together
// with the POST that finds them missing.
func TestUpdateDownloadsOnlyNewBlobs(t *testing.T) {
	src, dst := newRecorder(t), newDistTarget(t, false)
	base := mustLayer(t)
	bd, _ := base.Digest()
	old := push(t, src.host()+"/library/x:1", twoPlatformIndex(t, base))
	first := change("docker.io/library/x:1", dst.host()+"/mirror/x:1", old)
	if r := engineTo(t, src, dst.host()).Apply(context.Background(), []diff.Change{first}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	moved := push(t, src.host()+"/library/x:1", twoPlatformIndex(t, base))
	update := change("docker.io/library/x:1", dst.host()+"/mirror/x:1", moved)
	update.Action, update.CurrentDigest = diff.Update, digest.Digest(old)
	src.reset()
	dst.reset()
	r := engineTo(t, src, dst.host()).Apply(context.Background(), []diff.Change{update})
	if r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if n := src.count("GET ", "/blobs/"+bd.String()); n != 0 {
		t.Errorf("the layer the target holds was downloaded %d times", n)
	}
	if got, want := src.count("GET ", "/blobs/sha256:"), r[0].BlobsUploaded; got != want {
		t.Errorf("%d downloads for %d uploads", got, want)
	}
	if r[0].BlobsUploaded != 4 { // 2 configs, 2 own layers
		t.Errorf("result: %+v", r[0])
	}
	checkMirrored(t, []diff.Change{update})
}

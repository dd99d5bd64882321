package apply

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	isregistry "github.com/imagesync/imagesync/internal/registry"
)

// boundedLayerSize is the size of the layer a hostile source serves wrong.
const boundedLayerSize = 64 << 10

// hostileSource is an in-process registry holding one image, library/x:1,
// that serves its layer wrong: "endless" streams the layer's bytes and
// then more without end (no Content-Length), "wrong" sends bytes of the
// right size that do not hash to the digest. With cutFirst, the first
// download is cut off halfway (a reset), and the resumed download (with
// Range) is the hostile one. The proxy counts the downloads of the layer.
type hostileSource struct {
	*httptest.Server
	layer    []byte
	digest   digest.Digest
	image    string // the image's digest
	gets     atomic.Int64
	written  atomic.Int64 // bytes written after the layer's end, over all downloads
	kind     string
	cutFirst bool
}

func newHostileSource(t *testing.T, kind string, cutFirst bool, layer []byte, img v1.Image) *hostileSource {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s := &hostileSource{layer: layer, digest: digest.FromBytes(layer), kind: kind, cutFirst: cutFirst}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+s.digest.String()) {
			s.serveLayer(t, w, r, s.gets.Add(1))
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	s.image = pushImage(t, strings.TrimPrefix(s.URL, "http://")+"/library/x:1", img)
	return s
}

// layered is a random image with layer as its last layer.
func layered(t *testing.T, layer []byte) v1.Image {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(layer, types.OCILayer)})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pushImage writes img under ref and returns its digest.
func pushImage(t *testing.T, ref string, img v1.Image) string {
	t.Helper()
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

func (s *hostileSource) serveLayer(t *testing.T, w http.ResponseWriter, r *http.Request, n int64) {
	size := len(s.layer)
	if s.cutFirst && n == 1 {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
		_, _ = buf.Write(s.layer[:size/2])
		_ = buf.Flush()
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
		return
	}
	start := 0
	if rg := r.Header.Get("Range"); rg != "" {
		start, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, size-1, size))
	}
	body := append([]byte(nil), s.layer[start:]...)
	status := http.StatusOK
	if start > 0 {
		status = http.StatusPartialContent
	}
	if s.kind == "wrong" {
		body[len(body)/2] ^= 0xff
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return
	}
	// Endless: the layer's bytes, then more, until the client hangs up
	// (or 256 MiB, which a bounded reader never comes near).
	w.WriteHeader(status)
	if _, err := w.Write(body); err != nil {
		return
	}
	junk := bytes.Repeat([]byte("more"), 8<<10)
	for s.written.Load() < 256<<20 {
		if _, err := w.Write(junk); err != nil {
			return
		}
		s.written.Add(int64(len(junk)))
	}
}

// countingTarget is a registry (go-containerregistry's, in memory: the
// distribution registry goes on writing an upload session's state after
// it answered, which races with the test's end) behind a proxy that counts
// the body bytes of every upload PUT of one digest, and can refuse mounts
// (a session instead), answer mount POSTs 503, or the first upload PUT
// 429.
type countingTarget struct {
	*httptest.Server
	digest       digest.Digest
	refuseMounts bool
	failMounts   bool
	throttle     atomic.Bool

	mu      sync.Mutex
	uploads []int64 // body bytes the registry received, per PUT of digest
}

func newCountingTarget(t *testing.T, d digest.Digest) *countingTarget {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	c := &countingTarget{digest: d}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/v2/mirror/x/blobs/"+d.String():
			// go-containerregistry's registry keeps blobs for all
			// repositories at once; the blob is in mirror/x only if a
			// whole upload went there, which the test refuses anyway.
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
			return
		case r.Method == http.MethodPost && q.Has("mount") && c.failMounts:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case r.Method == http.MethodPost && q.Has("mount") && c.refuseMounts:
			q.Del("mount")
			q.Del("from")
			r.URL.RawQuery = q.Encode()
		case r.Method == http.MethodPut && q.Get("digest") == d.String():
			if c.throttle.CompareAndSwap(true, false) {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			// The upload is read here first, to count what arrived, and
			// passed on only whole.
			data, err := io.ReadAll(r.Body)
			c.mu.Lock()
			c.uploads = append(c.uploads, int64(len(data)))
			c.mu.Unlock()
			if err != nil {
				return
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *countingTarget) host() string { return strings.TrimPrefix(c.URL, "http://") }

type countingBody struct {
	rc io.ReadCloser
	n  atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }

// readCounter is a client transport that counts the body bytes imagesync
// reads of every download of one blob.
type readCounter struct {
	next   http.RoundTripper
	suffix string
	mu     sync.Mutex
	reads  []*atomic.Int64
}

func (c *readCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, c.suffix) {
		return resp, err
	}
	body := &countingBody{rc: resp.Body}
	c.mu.Lock()
	c.reads = append(c.reads, &body.n)
	c.mu.Unlock()
	resp.Body = body
	return resp, nil
}

func (c *readCounter) total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, r := range c.reads {
		n += r.Load()
	}
	return n
}

// TestHostileBlobNeverLands: a source that sends more bytes than a
// blob's descriptor says (an endless stream) or wrong bytes of the right
// size fails the image on every path a blob takes to the target, with an
// error naming the source, the repository and the digest; imagesync reads
// no more than one byte past the blob's size per download, and the target
// never receives a whole upload of the wrong bytes (the proxy in front of
// it counts what each upload brought). (imagesync uploads
// every blob in one PUT: there is no chunked PATCH path to test.)
func TestHostileBlobNeverLands(t *testing.T) {
	paths := []struct {
		name     string
		setup    func(t *testing.T, dst *countingTarget, layer []byte) []Known
		cutFirst bool
	}{
		{name: "streamed upload"},
		{name: "mount refused", setup: knownElsewhere},
		{name: "session opened after placement failed", setup: func(_ *testing.T, dst *countingTarget, _ []byte) []Known {
			dst.failMounts = true
			return nil
		}},
		{name: "resumed download", cutFirst: true},
		{name: "PUT tried again after 429", setup: func(_ *testing.T, dst *countingTarget, _ []byte) []Known {
			dst.throttle.Store(true)
			return nil
		}},
	}
	for _, kind := range []string{"endless", "wrong"} {
		for _, p := range paths {
			t.Run(kind+"/"+p.name, func(t *testing.T) {
				layer := bytes.Repeat([]byte("layer bytes "), boundedLayerSize/12+1)[:boundedLayerSize]
				src := newHostileSource(t, kind, p.cutFirst, layer, layered(t, layer))
				dst := newCountingTarget(t, src.digest)
				var known []Known
				if p.setup != nil {
					known = p.setup(t, dst, layer)
				}
				counter := &readCounter{next: http.DefaultTransport.(*http.Transport).Clone(), suffix: "/blobs/" + src.digest.String()}
				hcl := `target { registry = "` + dst.host() + `/mirror" }
registry "docker.io" { mirrors = ["` + src.URL + `"] }`
				policy := isregistry.RetryPolicy{Sleep: func(context.Context, time.Duration) error { return nil }}
				e := newEngine(t, hcl, []isregistry.Option{isregistry.WithBaseTransport(counter), isregistry.WithRetryPolicy(policy)},
					WithKnownImages(known))
				results := e.Apply(context.Background(), []diff.Change{change("docker.io/library/x:1", dst.host()+"/mirror/x:1", src.image)})
				err := results[0].Err
				want := map[string]string{"endless": fmt.Sprintf("sent more than the %d bytes", boundedLayerSize), "wrong": "does not match its digest"}[kind]
				for _, w := range []string{want, strings.TrimPrefix(src.URL, "http://"), "library/x@" + src.digest.String()} {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v, want it to say %q", err, w)
					}
				}
				reads := counter.total()
				// One source: fetched as often as the retry layer tries a
				// request (6), once more for a download cut off and resumed.
				if limit := int64(len(counter.reads)) * (boundedLayerSize + 1); reads > limit || len(counter.reads) > 7 {
					t.Errorf("read %d bytes in %d downloads of a %d-byte blob, want at most one byte past it each", reads, len(counter.reads), boundedLayerSize)
				}
				dst.mu.Lock()
				defer dst.mu.Unlock()
				for _, n := range dst.uploads {
					if n >= boundedLayerSize {
						t.Errorf("the target received an upload of %d bytes of the %d-byte blob", n, boundedLayerSize)
					}
				}
			})
		}
	}
}

// knownElsewhere puts the layer, with its right bytes, in another
// repository of the target, known to the engine, and makes the target
// refuse mounts: the blob is asked for with a mount, answered by an
// upload session, which the hostile source then feeds.
func knownElsewhere(t *testing.T, dst *countingTarget, layer []byte) []Known {
	t.Helper()
	d := pushImage(t, dst.host()+"/mirror/other:1", layered(t, layer))
	dst.refuseMounts = true
	return []Known{{Target: imageref.MustParse(dst.host() + "/mirror/other:1"), Digest: digest.Digest(d)}}
}

// TestHostileMirrorSkipped: a mirror that sends more than a blob's size
// is asked for it as often as the retry layer tries a request (bad bytes
// are a transient fault, absorbed with the same budget), then the next
// source (the registry itself) serves it and the image lands.
func TestHostileMirrorSkipped(t *testing.T) {
	layer := bytes.Repeat([]byte("mirrored layer "), boundedLayerSize/15+1)[:boundedLayerSize]
	img := layered(t, layer)
	bad := newHostileSource(t, "endless", false, layer, img)
	good := newRecorder(t)
	pushImage(t, good.host()+"/library/x:1", img)
	dst := newCountingTarget(t, bad.digest)
	hcl := `target { registry = "` + dst.host() + `/mirror" }
registry "` + good.host() + `" { mirrors = ["` + bad.URL + `"] }`
	results := newEngine(t, hcl, instantRetries()).Apply(context.Background(), []diff.Change{change(good.host()+"/library/x:1", dst.host()+"/mirror/x:1", bad.image)})
	if err := results[0].Err; err != nil {
		t.Fatal(err)
	}
	if n := bad.gets.Load(); n != 6 {
		t.Errorf("the mirror that sent too much was asked for the blob %d times, want 6", n)
	}
	if n := good.count("GET", "/blobs/"+bad.digest.String()); n != 1 {
		t.Errorf("the registry was asked for the blob %d times, want 1", n)
	}
	if resp, err := http.Head(dst.URL + "/v2/mirror/x/manifests/" + bad.image); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the target lacks the image: %v %v", resp, err)
	}
	dst.mu.Lock()
	defer dst.mu.Unlock()
	// The mirror's tries brought all but the last byte, held back; the
	// registry's try the whole blob.
	if len(dst.uploads) != 7 || slices.ContainsFunc(dst.uploads[:6], func(n int64) bool { return n >= boundedLayerSize }) || dst.uploads[6] != boundedLayerSize {
		t.Errorf("uploads of the layer brought %v bytes, want six cut short, then one whole", dst.uploads)
	}
}

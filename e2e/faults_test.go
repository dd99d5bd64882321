package e2e

// Faults, injected and counted: a fault-injecting reverse proxy
// (internal/faultproxy) stands in front of real docker-registry processes,
// the source and the target, and answers 429 with Retry-After, 500/502/503,
// resets connections in the middle of a blob (download and upload), stalls
// until the client times out, truncates bodies, corrupts blobs, serves a
// manifest other than the locked one, an oversized manifest and a redirect
// loop; and the target registry process is killed in the middle of an
// apply and restarted.
//
// For each fault: apply either succeeds after retries or fails that image
// with a message naming the fault; afterwards verify --deep passes for
// every image reported done; nothing corrupted lands in the target's
// storage; a re-run completes the job. The table of docs/reliability.md is
// written from this test:
//
//	IMAGESYNC_UPDATE_RELIABILITY=1 go test ./e2e -run 'TestFaults$' -v

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/faultproxy"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// faultRig is a rig whose source and target registries sit behind fault
// proxies; the target keeps its storage in a directory of the test, so
// that it can be killed and started again.
type faultRig struct {
	*rig
	src        *testregistry.Server
	srcProxy   *faultproxy.Proxy
	dstProxy   *faultproxy.Proxy
	dstStorage string

	mu  sync.Mutex
	dst *testregistry.Server

	bg    sync.WaitGroup // restarts under way
	bgErr chan error     // their failures
}

// newFaultRig starts a target registry and proxies in front of src and
// of the target, and writes the rig's images.hcl.
func newFaultRig(t *testing.T, src *testregistry.Server, imgs []fakeupstream.Image) *faultRig {
	t.Helper()
	f := &faultRig{src: src, dstStorage: t.TempDir(), bgErr: make(chan error, 4)}
	f.dst = testregistry.StartT(t, testregistry.WithStorageDir(f.dstStorage))
	var err error
	if f.srcProxy, err = faultproxy.Start(src.URL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.srcProxy.Close() })
	if f.dstProxy, err = faultproxy.Start(f.dst.URL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.dstProxy.Close() })
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		_ = f.dst.Close()
	})
	f.rig = newRig(t, f.srcProxy.Host(), f.dstProxy.Host(), imgs, "")
	return f
}

// restartTarget kills the target registry (SIGTERM, which docker-registry
// does not handle without a drain timeout: it dies at once, connections
// and uploads in flight with it), waits down, and starts it again on the
// same storage. Its old port may be taken meanwhile (by any connection's
// local port), so it comes back on a new one and the proxy in front of it
// follows, as a load balancer would.
func (f *faultRig) restartTarget(down time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.dst.Close(); err != nil {
		return err
	}
	time.Sleep(down)
	srv, err := testregistry.Start(context.Background(), testregistry.WithStorageDir(f.dstStorage))
	if err != nil {
		return err
	}
	f.dst = srv
	return f.dstProxy.SetBackend(srv.URL())
}

func (f *faultRig) target() *testregistry.Server {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dst
}

// faultCase is one row of the fault table.
type faultCase struct {
	name  string // subtest name
	fault string // what is injected, for the table
	// rules installs the faults (after lock, before apply).
	rules func(t *testing.T, f *faultRig) []*faultproxy.Rule
	// failing is the image that must fail ("" when all must succeed, "*"
	// when the outcome may go either way), and message what its error says.
	failing, message string
	// permanent: the fault does not go away by itself (no retry can get
	// the image across); every other fault must be absorbed on the first
	// run.
	permanent bool
	env       []string // extra environment of the faulty apply
	// check runs after the faulty apply, before the re-run.
	check func(t *testing.T, f *faultRig, mark int)
}

var (
	debianOnly   = regexp.MustCompile(`^/v2/library/debian/`)
	rigLayerSize = int64(100 << 10) // faults in the middle of a blob come after this much
)

// imageOf finds a rig image by its short name ("debian").
func imageOf(t *testing.T, imgs []fakeupstream.Image, short string) fakeupstream.Image {
	t.Helper()
	for _, img := range imgs {
		if strings.Contains(img.Ref, "/"+short+":") {
			return img
		}
	}
	t.Fatalf("no rig image %s", short)
	return fakeupstream.Image{}
}

// builtManifest is the top manifest of a generated image: digest, media
// type and bytes.
func builtManifest(t *testing.T, img fakeupstream.Image) (string, string, []byte) {
	t.Helper()
	b, err := fakeupstream.Build(img)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := b.Digest()
	mt, _ := b.MediaType()
	raw, err := b.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String(), string(mt), raw
}

func faultCases(imgs []fakeupstream.Image) []faultCase {
	big := bigBlob(bigBlobs(imgs))
	return []faultCase{
		{name: "none", fault: "none (baseline)"},
		{
			name: "429-source", fault: "429 Too Many Requests, `Retry-After: 1`, on source blob downloads (3 times)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: faultproxy.Blobs, Times: 3, Fault: faultproxy.Status, Code: 429, RetryAfter: "1"})}
			},
		},
		{
			name: "429-target", fault: "429 Too Many Requests, `Retry-After: 1`, on target upload starts (2 times)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.dstProxy.Add(&faultproxy.Rule{Method: http.MethodPost, Path: faultproxy.Uploads, Times: 2, Fault: faultproxy.Status, Code: 429, RetryAfter: "1"})}
			},
		},
		{
			name: "500-target-manifest", fault: "500 Internal Server Error on target manifest PUTs (2 times)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.dstProxy.Add(&faultproxy.Rule{Method: http.MethodPut, Path: faultproxy.Manifests, Times: 2, Fault: faultproxy.Status, Code: 500})}
			},
		},
		{
			name: "502-source-manifest", fault: "502 Bad Gateway on source manifest GETs (2 times)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: faultproxy.Manifests, Times: 2, Fault: faultproxy.Status, Code: 502})}
			},
		},
		{
			name: "503-target", fault: "503 Service Unavailable on target HEADs (manifests and blobs, 4 times)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.dstProxy.Add(&faultproxy.Rule{Method: http.MethodHead, Times: 4, Fault: faultproxy.Status, Code: 503})}
			},
		},
		{
			name: "503-persistent", fault: "503 Service Unavailable on every source request for one image",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Path: debianOnly, Fault: faultproxy.Status, Code: 503})}
			},
			permanent: true, failing: "debian", message: "503 Service Unavailable",
		},
		{
			name: "reset-download", fault: "connection reset after 100 KiB of a source blob (2 times)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: faultproxy.Blobs, Match: big, Times: 2, Fault: faultproxy.Reset, AfterBytes: rigLayerSize})}
			},
		},
		{
			name: "reset-upload", fault: "connection reset after 100 KiB of a target blob upload (2 times)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.dstProxy.Add(&faultproxy.Rule{Method: http.MethodPut, Path: faultproxy.Uploads, Match: bigUpload, Times: 2, Fault: faultproxy.ResetUpload, AfterBytes: rigLayerSize})}
			},
		},
		{
			name: "stall-headers", fault: "source blob download stalls before its headers until the client times out (1 time)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: faultproxy.Blobs, Times: 1, Fault: faultproxy.Stall})}
			},
			env: []string{"IMAGESYNC_STALL_TIMEOUT=3s"},
		},
		{
			name: "stall-body", fault: "source blob download stalls after 100 KiB until the client times out (1 time)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: faultproxy.Blobs, Match: big, Times: 1, Fault: faultproxy.StallBody, AfterBytes: rigLayerSize})}
			},
			env: []string{"IMAGESYNC_STALL_TIMEOUT=3s"},
		},
		{
			name: "truncate", fault: "source blob body ends early, after 100 KiB (2 times)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: faultproxy.Blobs, Match: big, Times: 2, Fault: faultproxy.Truncate, AfterBytes: rigLayerSize})}
			},
		},
		{
			name: "reset-download-every-3rd", fault: "connection reset after 100 KiB of every 3rd source blob download",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: faultproxy.Blobs, Match: every(3, big), Fault: faultproxy.Reset, AfterBytes: rigLayerSize})}
			},
		},
		{
			name: "429-upload-every-3rd", fault: "429 Too Many Requests, `Retry-After: 1`, on every 3rd target blob upload (PUT)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.dstProxy.Add(&faultproxy.Rule{Method: http.MethodPut, Path: faultproxy.Uploads, Match: every(3, nil), Fault: faultproxy.Status, Code: 429, RetryAfter: "1"})}
			},
		},
		{
			name: "503-upload", fault: "503 Service Unavailable on target blob uploads (PUT, 2 times)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.dstProxy.Add(&faultproxy.Rule{Method: http.MethodPut, Path: faultproxy.Uploads, Times: 2, Fault: faultproxy.Status, Code: 503})}
			},
		},
		{
			name: "corrupt-once", fault: "source blob with one byte flipped (1 time)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: faultproxy.Blobs, Match: big, Times: 1, Fault: faultproxy.Corrupt, AfterBytes: rigLayerSize})}
			},
			check: checkNoCorruptUpload,
		},
		{
			name: "corrupt-first", fault: "the first download of every source blob over 100 KiB with one byte flipped",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: faultproxy.Blobs, Match: firstOfEach(big), Fault: faultproxy.Corrupt, AfterBytes: rigLayerSize})}
			},
			check: checkNoCorruptUpload,
		},
		{
			name: "corrupt-every-3rd", fault: "every 3rd source blob download with one byte flipped; no mirror, no other source",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: faultproxy.Blobs, Match: every(3, nil), Fault: faultproxy.Corrupt, AfterBytes: rigLayerSize})}
			},
			check: checkNoCorruptUpload,
		},
		{
			name: "corrupt-mirror", fault: "a mirror serves every blob of one image with one byte flipped; the registry behind it serves them right",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				mirror, err := faultproxy.Start(f.src.URL())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = mirror.Close() })
				f.rig.writeConfig(fmt.Sprintf("registry %q {\n  mirrors = [%q]\n}\n", f.srcProxy.Host(), "http://"+mirror.Host()))
				return []*faultproxy.Rule{mirror.Add(&faultproxy.Rule{Method: http.MethodGet, Path: debianOnly, Match: isBlobGet, Fault: faultproxy.Corrupt, AfterBytes: 1000})}
			},
			check: checkNoCorruptUpload,
		},
		{
			name: "corrupt-always", fault: "every blob of one image with one byte flipped",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: debianOnly, Match: isBlobGet, Fault: faultproxy.Corrupt, AfterBytes: 1000})}
			},
			permanent: true, failing: "debian", message: "content does not match its digest",
			check: checkNoCorruptUpload,
		},
		{
			name: "wrong-manifest", fault: "source serves another manifest for the locked digest",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				d, _, _ := builtManifest(t, imageOf(t, imgs, "debian"))
				_, mt, other := builtManifest(t, imageOf(t, imgs, "busybox"))
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: regexp.MustCompile(`^/v2/library/debian/manifests/` + regexp.QuoteMeta(d) + `$`),
					Fault: faultproxy.Replace, Body: other, Header: faultproxy.ManifestHeader(mt, d)})}
			},
			permanent: true, failing: "debian", message: "served content whose digest is",
			check: func(t *testing.T, f *faultRig, mark int) {
				for _, req := range accessLog(t, f.target(), mark) {
					if kind, repo, _ := req.Endpoint(); kind == testregistry.KindManifest && req.Method == http.MethodPut && strings.HasSuffix(repo, "/debian") {
						t.Errorf("a manifest was pushed for the image whose source lied: %+v", req)
					}
				}
			},
		},
		{
			name: "huge-manifest", fault: "source serves a 5 MiB manifest (limit 4 MiB)",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				d, mt, _ := builtManifest(t, imageOf(t, imgs, "debian"))
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: regexp.MustCompile(`^/v2/library/debian/manifests/`),
					Fault: faultproxy.Replace, Body: faultproxy.Big(5 << 20), Header: faultproxy.ManifestHeader(mt, d)})}
			},
			permanent: true, failing: "debian", message: "larger than the 4194304 bytes allowed",
		},
		{
			name: "redirect-loop", fault: "source blob downloads redirect to themselves",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				return []*faultproxy.Rule{f.srcProxy.Add(&faultproxy.Rule{Method: http.MethodGet, Path: debianOnly, Match: isBlobGet, Fault: faultproxy.Redirect})}
			},
			permanent: true, failing: "debian", message: "redirect loop",
		},
		{
			name: "kill-target", fault: "target registry killed during the second blob upload, back 1 s later",
			rules: func(t *testing.T, f *faultRig) []*faultproxy.Rule {
				var once sync.Once
				return []*faultproxy.Rule{f.dstProxy.Add(&faultproxy.Rule{Name: "kill", Method: http.MethodPut, Path: faultproxy.Uploads, Match: bigUpload, Skip: 1, Times: 1, Fault: faultproxy.Hook,
					OnInject: func(*http.Request) {
						once.Do(func() {
							f.bg.Add(1)
							go func() {
								defer f.bg.Done()
								time.Sleep(20 * time.Millisecond) // the upload is under way
								if err := f.restartTarget(time.Second); err != nil {
									f.bgErr <- fmt.Errorf("restart the target: %w", err)
								}
							}()
						})
					}})}
			},
		},
	}
}

// bigBlobs are the digests of the rig's blobs larger than rigLayerSize:
// the proxy cannot know a blob's size before it answers, and a fault
// "after 100 KiB" must not hit a blob that is smaller.
func bigBlobs(imgs []fakeupstream.Image) map[string]bool {
	out := map[string]bool{}
	for _, img := range imgs {
		b, err := fakeupstream.Build(img)
		if err != nil {
			panic(err)
		}
		var images []v1.Image
		if b.Image != nil {
			images = append(images, b.Image)
		} else {
			im, err := b.Index.IndexManifest()
			if err != nil {
				panic(err)
			}
			for _, d := range im.Manifests {
				child, err := b.Index.Image(d.Digest)
				if err != nil {
					panic(err)
				}
				images = append(images, child)
			}
		}
		for _, i := range images {
			m, err := i.Manifest()
			if err != nil {
				panic(err)
			}
			for _, l := range m.Layers {
				if l.Size > rigLayerSize {
					out[l.Digest.String()] = true
				}
			}
		}
	}
	return out
}

// bigBlob returns a Match for blob downloads of big blobs.
func bigBlob(big map[string]bool) func(*http.Request) bool {
	return func(r *http.Request) bool { return big[r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]] }
}

// bigUpload matches an upload PUT of more than rigLayerSize bytes.
func bigUpload(r *http.Request) bool { return r.ContentLength > rigLayerSize }

// every matches every nth request that match accepts (nil: any).
func every(n int64, match func(*http.Request) bool) func(*http.Request) bool {
	var seen atomic.Int64
	return func(r *http.Request) bool {
		return (match == nil || match(r)) && seen.Add(1)%n == 0
	}
}

// firstOfEach matches the first request for each path that match
// accepts.
func firstOfEach(match func(*http.Request) bool) func(*http.Request) bool {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(r *http.Request) bool {
		if !match(r) {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		first := !seen[r.URL.Path]
		seen[r.URL.Path] = true
		return first
	}
}

func isBlobGet(r *http.Request) bool {
	return r.Method == http.MethodGet && faultproxy.Blobs.MatchString(r.URL.Path)
}

func TestFaults(t *testing.T) {
	imgs := rigImages()
	src := testregistry.StartT(t, testregistry.WithStorageDir(seedStorage(t, imgs)))
	cases := faultCases(imgs)
	rows := make([]faultRow, len(cases))
	slots := make(chan struct{}, 6) // cases at once: each runs two registries' worth of work
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			slots <- struct{}{}
			defer func() { <-slots }()
			rows[i] = runFaultCase(t, src, imgs, c)
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		table := faultTable(rows)
		t.Logf("fault table:\n%s", table)
		if os.Getenv("IMAGESYNC_UPDATE_RELIABILITY") != "" {
			updateReliabilityDoc(t, table)
		}
	})
}

func runFaultCase(t *testing.T, src *testregistry.Server, imgs []fakeupstream.Image, c faultCase) faultRow {
	f := newFaultRig(t, src, imgs)
	f.must(0, "lock")
	row := faultRow{c: c}
	var rules []*faultproxy.Rule
	if c.rules != nil {
		rules = c.rules(t, f)
	}
	f.srcProxy.ResetStats()
	f.dstProxy.ResetStats()
	mark := len(accessLog(t, f.target(), 0))
	f.env = c.env
	res := f.run("--debug", "apply", "--auto-approve")
	f.env = nil
	f.bg.Wait()
	select {
	case err := <-f.bgErr:
		t.Fatal(err)
	default:
	}
	for _, r := range rules {
		row.injected += r.Injected()
	}
	row.absorbed = countAbsorbed(res.stderr)
	f.srcProxy.Clear()
	f.dstProxy.Clear()
	if c.rules != nil && row.injected == 0 {
		t.Fatalf("the fault was never injected\n%v", res)
	}

	failed, messages, summarized := failedTargets(res)
	if !summarized {
		t.Fatalf("apply printed no summary:\n%v", res)
	}
	row.firstTry = res.code == 0 && len(failed) == 0
	switch {
	case !c.permanent && !row.firstTry && c.failing != "*":
		t.Fatalf("apply did not absorb %s on the first run:\n%v", c.fault, res)
	case c.failing != "" && c.failing != "*":
		if res.code != 1 || len(failed) != 1 || !strings.Contains(failed[0], "/"+c.failing+":") {
			t.Fatalf("want only %s to fail, failed %v:\n%v", c.failing, failed, res)
		}
		if !strings.Contains(messages[0], c.message) {
			t.Fatalf("the failure does not name the fault (%q): %s", c.message, messages[0])
		}
		t.Logf("%s: %s", c.name, messages[0])
	}
	if c.check != nil {
		c.check(t, f, mark)
	}

	// Every image reported done is complete in the target.
	problems := f.verifyProblems()
	done := 0
	for _, img := range imgs {
		target := f.rig.target(img)
		isFailed := false
		for _, ft := range failed {
			isFailed = isFailed || ft == target
		}
		if !isFailed {
			done++
			if p := problems[target]; len(p) > 0 {
				t.Errorf("%s was reported done, but verify --deep finds: %v", target, p)
			}
		}
	}
	blobs := checkStoredBlobs(t, f.dstStorage)

	// A re-run completes the job.
	f.must(0, "apply", "--auto-approve")
	f.checkMirrored()
	checkStoredBlobs(t, f.dstStorage)
	row.uploaded = f.dstProxy.Stats().UploadBytes

	row.outcome = outcomeOf(t, row, failed, messages, len(imgs), done)
	t.Logf("%s: injected %d, %s; %d blobs in target storage, all hash right; %d upload bytes",
		c.name, row.injected, row.outcome, blobs, row.uploaded)
	return row
}

// outcomeOf is the outcome column of a case: what absorbed the faults, or
// which images failed and why.
func outcomeOf(t *testing.T, row faultRow, failed, messages []string, images, done int) string {
	how := row.absorbed.String()
	switch {
	case row.firstTry && how == "":
		return "ok"
	case row.firstTry:
		return "ok after " + how
	}
	msg := row.c.message
	if msg == "" {
		msg = failureCause(strings.Join(messages, "\n"))
		t.Logf("%s: %s", row.c.name, strings.Join(messages, "\n"))
	}
	if how == "" {
		how = "nothing absorbed"
	}
	return fmt.Sprintf("%d of %d images failed (%q) after %s; %d done and verified; re-run ok",
		len(failed), images, msg, how, done)
}

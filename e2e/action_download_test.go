package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/imagesync/imagesync/internal/testregistry"
)

func sha256File(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func runtimeArch() string { return runtime.GOARCH }

// TestActionStepsDownload runs action.yml's steps the way a workflow
// pinned to a release does (the version input standing for the ref
// "imagesync/imagesync@v9.9.10-snapshot"): the snapshot release's archive
// for this runner is downloaded from a local HTTP server standing for
// GitHub releases (download-url), checked against checksums.txt, cached,
// and runs plan. The setup time is reported cold and cached (targets:
// under 10 s and under 2 s; measured, not asserted). A tampered archive
// fails the step and is not run.
func TestActionStepsDownload(t *testing.T) {
	dist, _ := snapshotRelease(t)
	release := t.TempDir()
	serve := func(tamper bool) *httptest.Server {
		dir := filepath.Join(release, map[bool]string{false: "ok", true: "tampered"}[tamper], "v"+snapshotVersion)
		for _, name := range []string{"checksums.txt", "imagesync_" + snapshotVersion + "_linux_" + runtimeArch() + ".tar.gz"} {
			data, err := os.ReadFile(filepath.Join(dist, name))
			if err != nil {
				t.Fatal(err)
			}
			if tamper && strings.HasSuffix(name, ".tar.gz") {
				data[len(data)/2] ^= 0xff
			}
			writeFile(t, filepath.Join(dir, name), string(data))
		}
		srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(dir))))
		t.Cleanup(srv.Close)
		return srv
	}

	imgs := rigImages()
	src := seededSource(t, imgs)
	dst := testregistry.StartT(t)
	r := newRig(t, src.Host(), dst.Host(), imgs, "")
	r.must(0, "lock")
	// cosign stays off PATH: the step says the signature was not checked.
	j := &actionJob{t: t, action: loadAction(t), workspace: filepath.Dir(r.dir), temp: t.TempDir(), toolCache: t.TempDir(),
		env: []string{"DOCKER_CONFIG=" + t.TempDir(), "PATH=/usr/bin:/bin"}}
	j.summary = filepath.Join(j.temp, "step_summary.md")
	inputs := func(url string) map[string]string {
		return map[string]string{"command": "plan", "directory": filepath.Base(r.dir), "version": "v" + snapshotVersion, "download-url": url}
	}

	ok := serve(false)
	start := time.Now()
	out, log, passed := j.use(inputs(ok.URL))
	cold := time.Since(start)
	if !passed || out["has-changes"] != "true" || !strings.Contains(log, "imagesync v"+snapshotVersion) ||
		!strings.Contains(log, "as checksums.txt says") || !strings.Contains(log, "the signature of checksums.txt was not checked") {
		t.Fatalf("cold: ok %v, outputs %v\n%s", passed, out, log)
	}
	if want := filepath.Join(j.toolCache, "imagesync", "v"+snapshotVersion, "linux-"+runtimeArch(), "imagesync"); out["binary"] != want {
		t.Errorf("binary output %q, want %q", out["binary"], want)
	}
	start = time.Now()
	out, log, passed = j.use(inputs("http://127.0.0.1:1/unreachable")) // the cache serves it
	cached := time.Since(start)
	if !passed || out["has-changes"] != "true" || !strings.Contains(log, "from the cache") {
		t.Fatalf("cached: ok %v, outputs %v\n%s", passed, out, log)
	}
	t.Logf("action setup and plan: cold (download, checksum, extract) %.2f s, cached %.2f s (targets 10 s and 2 s for the setup)", cold.Seconds(), cached.Seconds())

	// A tampered archive: the sha256 check refuses it, nothing is cached.
	fresh := &actionJob{t: t, action: j.action, workspace: j.workspace, temp: t.TempDir(), toolCache: t.TempDir(), env: j.env}
	fresh.summary = filepath.Join(fresh.temp, "step_summary.md")
	_, log, passed = fresh.use(inputs(serve(true).URL))
	if passed || !strings.Contains(log, "refusing it") {
		t.Errorf("tampered archive: ok %v\n%s", passed, log)
	}
	if _, err := os.Stat(filepath.Join(fresh.toolCache, "imagesync", "v"+snapshotVersion, "linux-"+runtimeArch(), "imagesync")); err == nil {
		t.Error("the tampered archive was unpacked into the tool cache")
	}

	// cosign on the runner: a release is always signed, so one without
	// checksums.txt.sigstore.json (the snapshot skips signing) is refused
	// before anything is unpacked.
	bin := t.TempDir()
	if err := os.Symlink(cosignBinary(t), filepath.Join(bin, "cosign")); err != nil {
		t.Fatal(err)
	}
	signed := &actionJob{t: t, action: j.action, workspace: j.workspace, temp: t.TempDir(), toolCache: t.TempDir(),
		env: []string{"DOCKER_CONFIG=" + t.TempDir(), "PATH=" + bin + ":/usr/bin:/bin"}}
	signed.summary = filepath.Join(signed.temp, "step_summary.md")
	_, log, passed = signed.use(inputs(ok.URL))
	if passed || !strings.Contains(log, "has no checksums.txt.sigstore.json: refusing it") {
		t.Errorf("unsigned release with cosign on the runner: ok %v\n%s", passed, log)
	}
	if _, err := os.Stat(filepath.Join(signed.toolCache, "imagesync", "v"+snapshotVersion, "linux-"+runtimeArch(), "imagesync")); err == nil {
		t.Error("the unsigned release was unpacked into the tool cache")
	}
}

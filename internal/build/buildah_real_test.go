package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagesync/imagesync/internal/dockerfile"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// needBuildah skips the test when buildah is missing, except in CI, which
// must install it.
func needBuildah(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("buildah"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must install buildah (apt-get install buildah): %v", err)
		}
		t.Skipf("skipping: needs buildah (apt-get install buildah): %v", err)
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("skipping: the test base image runs linux/amd64 busybox, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
}

// busyboxLayer is a layer holding Debian's static busybox (busybox-static)
// as /bin/busybox, with /bin/sh linking to it.
func busyboxLayer(t *testing.T) v1.Layer {
	t.Helper()
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must install busybox-static: %v", err)
		}
		t.Skipf("skipping: needs /bin/busybox (apt-get install busybox-static): %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, h := range []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin)), ModTime: epoch},
		{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: epoch},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bin); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return layer
}

// baseImage is a one-layer OCI image of layer for linux/arch.
func baseImage(t *testing.T, layer v1.Layer, arch string) v1.Image {
	t.Helper()
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	cfg.Config.Env = []string{"PATH=/bin"}
	cfg.Config.Cmd = []string{"/bin/sh"}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func parseRef(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pushBase pushes img (an image or an index) to ref and returns the
// reference pinned by digest, as images.lock would pin the mirror.
func pushBase(t *testing.T, ref string, img remote.Taggable) string {
	t.Helper()
	var err error
	switch v := img.(type) {
	case v1.Image:
		err = remote.Write(parseRef(t, ref), v)
	case v1.ImageIndex:
		err = remote.WriteIndex(parseRef(t, ref), v)
	}
	if err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.(interface{ Digest() (v1.Hash, error) }).Digest()
	if err != nil {
		t.Fatal(err)
	}
	pin := ref + "@" + d.String()
	t.Cleanup(func() {
		// The build pulled the base into buildah's storage; the test's
		// registry port will not come back.
		exec.Command("buildah", "--storage-driver", "vfs", "rmi", pin).Run()
	})
	return pin
}

// commandLog is a runFunc that runs the real builder and records its
// command lines.
type commandLog struct {
	mu   sync.Mutex
	args [][]string
}

func (l *commandLog) run(ctx context.Context, name string, args []string, dir string, out io.Writer) error {
	l.mu.Lock()
	l.args = append(l.args, slices.Clone(args))
	l.mu.Unlock()
	return execRunner(ctx, name, args, dir, out)
}

// localImage is the local name the build used.
func (l *commandLog) localImage(t *testing.T) string {
	t.Helper()
	for _, a := range l.args {
		for i, s := range a {
			if (s == "-t" || s == "--manifest") && i+1 < len(a) {
				return a[i+1]
			}
		}
	}
	t.Fatal("no build command")
	return ""
}

// checkRemoved checks that the build left nothing under its local name.
func checkRemoved(t *testing.T, local string) {
	t.Helper()
	out, err := exec.Command("buildah", "--storage-driver", "vfs", "images", "--all", "--format", "{{.Name}}:{{.Tag}}").CombinedOutput()
	if err != nil {
		t.Fatalf("buildah images: %v: %s", err, out)
	}
	if strings.Contains(string(out), local) {
		t.Errorf("the build left %s in buildah's storage:\n%s", local, out)
	}
	if err := exec.Command("buildah", "--storage-driver", "vfs", "manifest", "inspect", local).Run(); err == nil {
		t.Errorf("the build left the manifest list %s", local)
	}
}

// buildContext writes a build context; the returned function reports
// whether it still holds exactly those files.
func buildContext(t *testing.T, files map[string]string) (string, func() error) {
	t.Helper()
	dir := t.TempDir()
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, func() error {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		if len(entries) != len(files) {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			return errors.New("the build context changed: " + strings.Join(names, ", "))
		}
		return nil
	}
}

// realRequest scans df and pins its references to pins.
func realRequest(t *testing.T, df, contextDir, tag string, pins map[string]string, platforms ...string) Request {
	t.Helper()
	const dfName = "src/web/Dockerfile"
	scanned := platforms
	if len(scanned) == 0 {
		scanned = []string{""}
	}
	var scan []dockerfile.Found
	for _, p := range scanned {
		s, err := dockerfile.Scan([]byte(df), dockerfile.Options{Path: dfName, Platform: p})
		if err != nil {
			t.Fatal(err)
		}
		scan = append(scan, s...)
	}
	return Request{
		Service:        "web",
		ContextDir:     contextDir,
		Dockerfile:     []byte(df),
		DockerfileName: dfName,
		Labels:         map[string]string{"io.imagesync.inputs": "sha256:" + hex64},
		Platforms:      platforms,
		Tag:            tag,
		Pins:           pins,
		Scan:           scan,
		Insecure:       true,
	}
}

// fileIn returns the content of path in img's filesystem.
func fileIn(t *testing.T, img v1.Image, path string) string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s is not in the image: %v", path, err)
		}
		if strings.TrimPrefix(h.Name, "/") == path {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func TestBuildahBuildsFromThePinnedBase(t *testing.T) {
	needBuildah(t)
	reg := testregistry.StartT(t)
	layer := busyboxLayer(t)
	base := baseImage(t, layer, "amd64")
	pin := pushBase(t, reg.Host()+"/team/busybox:1.36", base)

	// Every base reference is the upstream busybox, which is unreachable
	// here: only the pinned copy can make the build work.
	df := `ARG BUSYBOX=1.36
FROM busybox:${BUSYBOX} AS build
RUN echo hi > /hello
FROM busybox:1.36
COPY --from=build /hello /hello
COPY file.txt /file.txt
RUN --mount=type=bind,from=busybox:1.36,target=/b test -x /b/bin/busybox && echo mounted > /mounted
`
	ctxDir, unchanged := buildContext(t, map[string]string{"file.txt": "from the context\n"})
	tag := reg.Host() + "/team/web:v1"
	req := realRequest(t, df, ctxDir, tag, map[string]string{"docker.io/library/busybox:1.36": pin})
	var out bytes.Buffer
	req.Output = &out
	log := &commandLog{}
	b, err := New(Buildah, withRunner(log.run))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d, err := b.Build(ctx, req)
	if err != nil {
		t.Fatalf("Build: %v\noutput:\n%s", err, out.String())
	}
	for _, a := range log.args {
		t.Logf("ran: buildah %s", strings.Join(a, " "))
	}

	desc, err := remote.Get(parseRef(t, tag))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != d.String() {
		t.Errorf("Build returned %s, the registry serves %s for %s", d, desc.Digest, tag)
	}
	img, err := remote.Image(parseRef(t, tag))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Config.Labels["io.imagesync.inputs"]; got != "sha256:"+hex64 {
		t.Errorf("label io.imagesync.inputs = %q", got)
	}
	baseLayer, err := layer.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got := layerDigests(t, img); len(got) < 2 || got[0] != baseLayer {
		t.Errorf("layers = %v, want the base layer %s first", got, baseLayer)
	}
	for path, want := range map[string]string{"hello": "hi\n", "file.txt": "from the context\n", "mounted": "mounted\n"} {
		if got := fileIn(t, img, path); got != want {
			t.Errorf("/%s = %q, want %q", path, got, want)
		}
	}
	if !strings.Contains(out.String(), "web | STEP 2/3: RUN echo hi > /hello") && !strings.Contains(out.String(), "web | [1/2] STEP 2/2: RUN echo hi > /hello") {
		t.Errorf("output lacks the RUN step:\n%s", out.String())
	}
	if strings.Contains(out.String(), "docker.io") {
		t.Errorf("the build mentions docker.io:\n%s", out.String())
	}
	if err := unchanged(); err != nil {
		t.Error(err)
	}
	checkRemoved(t, log.localImage(t))
}

func TestBuildahMultiPlatform(t *testing.T) {
	needBuildah(t)
	reg := testregistry.StartT(t)
	layer := busyboxLayer(t)
	amd, arm := baseImage(t, layer, "amd64"), baseImage(t, layer, "arm64")
	index := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	pin := pushBase(t, reg.Host()+"/team/busybox:1.36", index)
	t.Cleanup(func() {
		// buildah keeps each platform's base it pulled from the index
		// without a name: remove them by image ID (config digest).
		for _, img := range []v1.Image{amd, arm} {
			if id, err := img.ConfigName(); err == nil {
				exec.Command("buildah", "--storage-driver", "vfs", "rmi", id.String()).Run()
			}
		}
	})

	// No RUN: the arm64 image's busybox would need an emulator.
	df := "FROM busybox:1.36\nCOPY file.txt /file.txt\n"
	ctxDir, unchanged := buildContext(t, map[string]string{"file.txt": "multi\n"})
	tag := reg.Host() + "/team/web:multi"
	req := realRequest(t, df, ctxDir, tag, map[string]string{"docker.io/library/busybox:1.36": pin}, "linux/amd64", "linux/arm64")
	var out bytes.Buffer
	req.Output = &out
	log := &commandLog{}
	b, err := New(Buildah, withRunner(log.run))
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.Build(context.Background(), req)
	if err != nil {
		t.Fatalf("Build: %v\noutput:\n%s", err, out.String())
	}
	for _, a := range log.args {
		t.Logf("ran: buildah %s", strings.Join(a, " "))
	}
	desc, err := remote.Get(parseRef(t, tag))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != d.String() || !desc.MediaType.IsIndex() {
		t.Errorf("Build returned %s, the registry serves %s (%s) for %s", d, desc.Digest, desc.MediaType, tag)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	baseLayer, _ := layer.Digest()
	var platforms []string
	for _, m := range im.Manifests {
		platforms = append(platforms, m.Platform.String())
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Architecture != m.Platform.Architecture || cfg.Config.Labels["io.imagesync.inputs"] != "sha256:"+hex64 {
			t.Errorf("%s: config architecture %s, labels %v", m.Platform, cfg.Architecture, cfg.Config.Labels)
		}
		if got := layerDigests(t, img); len(got) != 2 || got[0] != baseLayer {
			t.Errorf("%s: layers = %v, want the base layer %s first", m.Platform, got, baseLayer)
		}
	}
	slices.Sort(platforms)
	if strings.Join(platforms, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("platforms = %v", platforms)
	}
	if err := unchanged(); err != nil {
		t.Error(err)
	}
	checkRemoved(t, log.localImage(t))
}

func TestBuildahFailure(t *testing.T) {
	needBuildah(t)
	reg := testregistry.StartT(t)
	pin := pushBase(t, reg.Host()+"/team/busybox:1.36", baseImage(t, busyboxLayer(t), "amd64"))
	df := "FROM busybox:1.36\nRUN echo about to fail && false\nRUN echo never\n"
	ctxDir, _ := buildContext(t, nil)
	tag := reg.Host() + "/team/web:broken"
	req := realRequest(t, df, ctxDir, tag, map[string]string{"docker.io/library/busybox:1.36": pin})
	var out bytes.Buffer
	req.Output = &out
	log := &commandLog{}
	b, _ := New(Buildah, withRunner(log.run))
	_, err := b.Build(context.Background(), req)
	var be *buildError
	if !errors.As(err, &be) {
		t.Fatalf("Build error = %v, want a *buildError", err)
	}
	msg := err.Error()
	t.Logf("the error:\n%s", msg)
	// The caller names the service (apply: "build web: ..."), once.
	if !strings.HasPrefix(msg, "buildah build failed: exit status 1; last output lines:\n") {
		t.Errorf("error does not start with what failed:\n%s", msg)
	}
	for _, want := range []string{"web | about to fail", `web | Error: building at STEP "RUN echo about to fail && false"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if len(be.Output) > tailLines {
		t.Errorf("the error keeps %d lines", len(be.Output))
	}
	if strings.Contains(out.String(), "never") {
		t.Errorf("the build went on:\n%s", out.String())
	}
	if _, err := remote.Head(parseRef(t, tag)); err == nil {
		t.Errorf("%s was pushed", tag)
	}
	checkRemoved(t, log.localImage(t))
}

func TestBuildahCancel(t *testing.T) {
	needBuildah(t)
	reg := testregistry.StartT(t)
	pin := pushBase(t, reg.Host()+"/team/busybox:1.36", baseImage(t, busyboxLayer(t), "amd64"))
	df := "FROM busybox:1.36\nRUN echo sleeping && sleep 60\n"
	ctxDir, _ := buildContext(t, nil)
	req := realRequest(t, df, ctxDir, reg.Host()+"/team/web:cancel", map[string]string{"docker.io/library/busybox:1.36": pin})
	started := make(chan struct{})
	var once sync.Once
	req.Output = writerFunc(func(p []byte) (int, error) {
		if bytes.Contains(p, []byte("web | sleeping")) {
			once.Do(func() { close(started) })
		}
		return len(p), nil
	})
	b, _ := New(Buildah)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-started
		cancel()
	}()
	begin := time.Now()
	_, err := b.Build(ctx, req)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Build error = %v, want context.Canceled", err)
	}
	if d := time.Since(begin); d > 30*time.Second {
		t.Errorf("Build took %s to stop", d)
	}
	out, _ := exec.Command("buildah", "--storage-driver", "vfs", "containers", "--format", "{{.ImageName}}").CombinedOutput()
	if strings.Contains(string(out), reg.Host()) {
		t.Errorf("the cancelled build left a working container:\n%s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

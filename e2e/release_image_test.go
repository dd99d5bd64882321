package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagesync/imagesync/internal/testregistry"
)

// standInBase pushes a stand-in for the release image's base (static,
// non-root, CA certificates) to a local registry, for linux/amd64 and
// linux/arm64, and returns its reference.
func standInBase(t *testing.T, host string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range map[string]string{
		"etc/ssl/certs/ca-certificates.crt": "# stand-in CA bundle\n",
		"etc/passwd":                        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	tw.Close()
	layer, err := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.ImageIndex = empty.Index
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := mutate.AppendLayers(empty.Image, layer)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		cf.Config.User = "65532"
		cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	ref := host + "/base/static:latest"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestReleaseImage runs the release as the tag's workflow does (not a
// snapshot), in the clone tagged v9.9.9, with the GitHub release disabled
// (IMAGESYNC_RELEASE_LOCAL), signing skipped, and ko pushing the image to
// a local registry, on a stand-in base from that registry; then checks the
// image: both platforms, the entrypoint, the user, and the binary of the
// linux/amd64 image saying v9.9.9.
func TestReleaseImage(t *testing.T) {
	// A clone of its own: the release below edits .goreleaser.yaml and
	// cleans dist, which the snapshot release's tests still read.
	requireReleaseTests(t)
	clone := t.TempDir()
	releaseClone(t, clone)
	reg := testregistry.StartT(t)
	host := strings.Replace(reg.Host(), "127.0.0.1", "localhost", 1) // ko speaks plain HTTP to localhost
	cfg := filepath.Join(clone, ".goreleaser.yaml")
	writeFile(t, cfg, strings.Replace(readFile(t, cfg), "base_image: cgr.dev/chainguard/static:latest", "base_image: "+standInBase(t, host), 1))
	cmd := exec.Command(goreleaser(t), "release", "--clean", "--skip=sign,validate,sbom")
	cmd.Dir = clone
	cmd.Env = append(os.Environ(), "GOFLAGS=", "IMAGESYNC_RELEASE_LOCAL=1", "KO_DOCKER_REPO="+host+"/imagesync", "DOCKER_CONFIG="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goreleaser release: %v\n%s", err, out)
	}
	ref, err := name.ParseReference(host+"/imagesync:"+releaseTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, m := range im.Manifests {
		if m.Platform != nil {
			platforms = append(platforms, m.Platform.OS+"/"+m.Platform.Architecture)
		}
	}
	slices.Sort(platforms)
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("image platforms %v", platforms)
	}
	img, err := remote.Image(ref, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.Config.Entrypoint) != 1 || filepath.Base(cf.Config.Entrypoint[0]) != "imagesync" || cf.Config.User != "65532:65532" {
		t.Errorf("entrypoint %q, user %q", cf.Config.Entrypoint, cf.Config.User)
	}
	bin := extractFile(t, img, strings.TrimPrefix(cf.Config.Entrypoint[0], "/"))
	if runtimeArch() != "amd64" {
		return
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "imagesync "+releaseTag) {
		t.Errorf("imagesync version in the image: %q, %v", out, err)
	}
}

// extractFile writes one file of an image's flattened file system to a
// temporary executable and returns its path.
func extractFile(t *testing.T, img v1.Image, path string) string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in the image: %v", path, err)
		}
		if strings.TrimPrefix(h.Name, "/") == path {
			dst := filepath.Join(t.TempDir(), filepath.Base(path))
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
			return dst
		}
	}
}

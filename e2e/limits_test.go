package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// rawIndex is an index manifest pushed as raw bytes.
type rawIndex struct{ raw []byte }

func (r rawIndex) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawIndex) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }

// pushHugeIndex pushes to repo on host an OCI index of n entries that all
// name img, and returns its digest.
func pushHugeIndex(t *testing.T, img v1.Image, host, repo, tag string, n int) string {
	t.Helper()
	child, err := name.ParseReference(host+"/"+repo+":child", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(child, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	size, _ := img.Size()
	mt, _ := img.MediaType()
	im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for i := 0; i < n; i++ {
		im.Manifests = append(im.Manifests, v1.Descriptor{MediaType: mt, Size: size, Digest: d,
			Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}, Annotations: map[string]string{"n": fmt.Sprint(i)}})
	}
	raw, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(ref, rawIndex{raw}); err != nil {
		t.Fatal(err)
	}
	return "sha256:" + hex.EncodeToString(sha256Sum(raw))
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// TestLimitIndexEntries: an index with more than 1,000 entries is refused
// by lock, apply and verify --deep with a clear error, instead of being
// walked.
func TestLimitIndexEntries(t *testing.T) {
	src := testregistry.StartT(t)
	dst := testregistry.StartT(t)
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	huge := pushHugeIndex(t, img, src.Host(), "library/huge", "1001", 1001)
	pushHugeIndex(t, img, src.Host(), "library/huge", "1000", 1000) // at the limit: fine
	imgs := []fakeupstream.Image{{Ref: "docker.io/library/huge:1001"}}

	// lock refuses to list its platforms.
	r := newRig(t, src.Host(), dst.Host(), imgs, "")
	res := r.must(1, "lock")
	if want := "has 1001 entries, more than the 1000 allowed"; !strings.Contains(res.stderr, want) {
		t.Errorf("lock of a 1001-entry index: want %q\n%v", want, res)
	}

	// A lock edited by hand to point at it: apply refuses to copy it.
	r = newRig(t, src.Host(), dst.Host(), []fakeupstream.Image{{Ref: "docker.io/library/huge:1000"}}, "")
	r.must(0, "lock")
	lockPath := filepath.Join(r.dir, "images.lock")
	l := loadLock(t, lockPath)
	replaceInFile(t, lockPath, l.Images[0].Digest.String(), huge)
	res = r.must(1, "apply", "--auto-approve")
	if want := "has 1001 entries, more than the 1000 allowed"; !strings.Contains(res.stdout+res.stderr, want) {
		t.Errorf("apply of a 1001-entry index: want %q\n%v", want, res)
	}
	for _, req := range accessLog(t, dst, 0) {
		if req.Method == http.MethodPut {
			t.Errorf("apply wrote to the target: %s %s", req.Method, req.Path)
		}
	}

	// The index in the target under the locked tag: verify --deep refuses
	// to walk it and says so.
	pushHugeIndex(t, img, dst.Host(), "mirror/library/huge", "1000", 1001)
	res = r.must(1, "verify", "--deep")
	if want := "has 1001 entries, more than the 1000 allowed"; !strings.Contains(res.stdout, want) {
		t.Errorf("verify --deep of a 1001-entry index: want %q\n%v", want, res)
	}
}

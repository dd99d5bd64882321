package platformfilter

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
)

// index is a BuildKit-style index: two platforms, each with its
// attestation manifest, and an arm/v7 image.
const index = `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "size": 10, "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "size": 11, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", "size": 12, "platform": {"architecture": "unknown", "os": "unknown"},
     "annotations": {"vnd.docker.reference.digest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "vnd.docker.reference.type": "attestation-manifest"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd", "size": 13, "platform": {"architecture": "unknown", "os": "unknown"},
     "annotations": {"vnd.docker.reference.digest": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "vnd.docker.reference.type": "attestation-manifest"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "size": 14, "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}}
  ],
  "annotations": {"org.opencontainers.image.ref.name": "a<b>"}
}`

func entries(t *testing.T) []v1.Descriptor {
	t.Helper()
	var im v1.IndexManifest
	if err := json.Unmarshal([]byte(index), &im); err != nil {
		t.Fatal(err)
	}
	return im.Manifests
}

func TestSelect(t *testing.T) {
	tests := []struct {
		want    []string
		kept    string // first letters of the kept digests
		missing string
	}{
		{[]string{"linux/amd64"}, "ac", ""},
		{[]string{"linux/arm64"}, "bd", ""}, // arm64 matches arm64/v8
		{[]string{"linux/arm64", "linux/amd64"}, "abcd", ""},
		{[]string{"linux/arm/v7"}, "e", ""},
		{[]string{"linux/amd64", "linux/s390x", "windows/amd64"}, "ac", "linux/s390x,windows/amd64"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.want, "+"), func(t *testing.T) {
			sel, err := Select(entries(t), tt.want)
			if err != nil {
				t.Fatal(err)
			}
			var kept string
			for _, k := range sel.Kept {
				kept += k.Digest.Hex[:1]
				if !sel.Keeps(k) {
					t.Errorf("Keeps(%s) = false", k.Digest)
				}
			}
			if kept != tt.kept || strings.Join(sel.Missing, ",") != tt.missing {
				t.Errorf("kept %q missing %v, want %q %q", kept, sel.Missing, tt.kept, tt.missing)
			}
		})
	}
	if _, err := Select(entries(t), []string{"linux/"}); err == nil {
		t.Error("a malformed platform was accepted")
	}
}

func TestFilter(t *testing.T) {
	sel, err := Select(entries(t), []string{"linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	data, d, err := Filter([]byte(index), sel.Keeps)
	if err != nil {
		t.Fatal(err)
	}
	if d != digest.FromBytes(data) {
		t.Errorf("digest %s does not match the bytes", d)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(data, &im); err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 || im.Manifests[0].Digest.Hex[0] != 'a' || im.Manifests[1].Digest.Hex[0] != 'c' ||
		im.Manifests[1].Annotations[referenceDigestAnnotation] == "" || im.MediaType != "application/vnd.oci.image.index.v1+json" ||
		im.Annotations["org.opencontainers.image.ref.name"] != "a<b>" {
		t.Errorf("filtered index: %s", data)
	}
	// Deterministic: the same input gives the same bytes, whatever the
	// input's spacing.
	compact := strings.Join(strings.Fields(index), " ")
	again, d2, err := Filter([]byte(compact), sel.Keeps)
	if err != nil || string(again) != string(data) || d2 != d {
		t.Errorf("not deterministic: %s vs %s (%v)", again, data, err)
	}
	if strings.Contains(string(data), `\u003c`) || strings.HasSuffix(string(data), "\n") {
		t.Errorf("escaped or trailing newline: %s", data)
	}
	for _, bad := range []string{`[`, `{"manifests": 1}`, `{"manifests": [1]}`} {
		if _, _, err := Filter([]byte(bad), sel.Keeps); err == nil {
			t.Errorf("Filter(%s) accepted", bad)
		}
	}
}

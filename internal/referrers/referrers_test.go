package referrers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/registry"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		artifactType, predicate string
		want                    Kind
	}{
		{BundleType, "https://sigstore.dev/cosign/sign/v1", Signature},
		{BundleType, "https://spdx.dev/Document", SBOM},
		{BundleType, "https://cyclonedx.org/bom", SBOM},
		{BundleType, "https://slsa.dev/provenance/v1", Attestation},
		{BundleType, "", Signature},
		{"application/vnd.dev.cosign.simplesigning.v1+json", "", Signature},
		{"application/vnd.cncf.notary.signature", "", Signature},
		{"application/vnd.dsse.envelope.v1+json", "", Attestation},
		{"application/vnd.in-toto+json", "", Attestation},
		{"application/spdx+json", "", SBOM},
		{"application/vnd.cyclonedx+json", "", SBOM},
		{"text/spdx", "", SBOM},
		{"application/vnd.example.thing", "", Other},
	}
	for _, tt := range tests {
		if got := Classify(tt.artifactType, tt.predicate); got != tt.want {
			t.Errorf("Classify(%q, %q) = %s, want %s", tt.artifactType, tt.predicate, got, tt.want)
		}
	}
}

func TestParseFacts(t *testing.T) {
	tests := []struct {
		manifest string
		want     facts
	}{
		{`{"artifactType":"a/b","config":{"mediaType":"c/d"},"annotations":{"dev.sigstore.bundle.predicateType":"p"}}`, facts{"a/b", "p", ""}},
		{`{"config":{"mediaType":"c/d"},"layers":[{"mediaType":"e/f"}]}`, facts{"c/d", "", ""}},
		{`{"config":{"mediaType":"application/vnd.oci.image.config.v1+json"},"layers":[{"mediaType":"application/vnd.dsse.envelope.v1+json","annotations":{"predicateType":"https://spdx.dev/Document"}}]}`,
			facts{"application/vnd.dsse.envelope.v1+json", "", "https://spdx.dev/Document"}},
		{`{"config":{"mediaType":"application/vnd.oci.empty.v1+json"}}`, facts{}},
	}
	for _, tt := range tests {
		got, err := parseFacts([]byte(tt.manifest))
		if err != nil || got != tt.want {
			t.Errorf("parseFacts(%s) = %+v, %v; want %+v", tt.manifest, got, err, tt.want)
		}
	}
	if _, err := parseFacts([]byte("[")); err == nil {
		t.Error("a broken manifest was accepted")
	}
}

// fakeSource is a repository with referrers and tags in memory.
type fakeSource struct {
	list      registry.ReferrerList
	tags      map[string]digest.Digest
	manifests map[digest.Digest]string
	gets      []digest.Digest
}

func (f *fakeSource) Referrers(context.Context, digest.Digest) (registry.ReferrerList, error) {
	return f.list, nil
}

func (f *fakeSource) HeadManifest(_ context.Context, ref string) (registry.Head, error) {
	d, ok := f.tags[ref]
	if !ok {
		return registry.Head{}, fmt.Errorf("HEAD %s: %w", ref, registry.ErrNotFound)
	}
	return registry.Head{Digest: d}, nil
}

func (f *fakeSource) GetManifest(_ context.Context, d digest.Digest) ([]byte, string, error) {
	f.gets = append(f.gets, d)
	m, ok := f.manifests[d]
	if !ok {
		return nil, "", fmt.Errorf("get %s: %w", d, registry.ErrNotFound)
	}
	return []byte(m), "", nil
}

func hash(s string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: digest.FromString(s).Encoded()} }

// TestFind discovers both schemes at once: two bundles listed by the
// referrers API (one without its predicate, so its manifest is read),
// cosign's .sig and an SBOM attestation under .att; .sbom is absent.
func TestFind(t *testing.T) {
	subject := digest.FromString("image")
	sig, att := digest.FromString("sig"), digest.FromString("att")
	src := &fakeSource{
		list: registry.ReferrerList{API: true, Descriptors: []v1.Descriptor{
			{Digest: hash("bundle-sign"), ArtifactType: BundleType, Annotations: map[string]string{bundlePredicate: signPredicate}},
			{Digest: hash("bundle-sbom"), ArtifactType: BundleType},
			{Digest: hash("bundle-sign"), ArtifactType: BundleType, Annotations: map[string]string{bundlePredicate: signPredicate}},
		}},
		tags: map[string]digest.Digest{CosignTag(subject, ".sig"): sig, CosignTag(subject, ".att"): att},
		manifests: map[digest.Digest]string{
			digest.FromString("bundle-sbom"): `{"artifactType":"` + BundleType + `","annotations":{"dev.sigstore.bundle.predicateType":"https://spdx.dev/Document"},"subject":{"digest":"` + subject.String() + `"}}`,
			sig:                              `{"config":{"mediaType":"application/vnd.oci.image.config.v1+json"},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json"}]}`,
			att:                              `{"config":{"mediaType":"application/vnd.oci.image.config.v1+json"},"layers":[{"mediaType":"application/vnd.dsse.envelope.v1+json","annotations":{"predicateType":"https://spdx.dev/Document"}}]}`,
		},
	}
	arts, err := Find(context.Background(), src, subject)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range arts {
		if a.Subject != subject {
			t.Errorf("%s has subject %s", a.Digest, a.Subject)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", a.Via, a.Kind, a.ArtifactType, strings.TrimPrefix(a.Tag, "sha256-"+subject.Encoded())))
	}
	want := []string{
		"referrers sbom " + BundleType + " ",
		"referrers signature " + BundleType + " ",
		"tag sbom application/vnd.dsse.envelope.v1+json .att",
		"tag signature application/vnd.dev.cosign.simplesigning.v1+json .sig",
	}
	// Referrers come first (no tag); among them, by digest.
	if digest.FromString("bundle-sign").String() < digest.FromString("bundle-sbom").String() {
		want[0], want[1] = want[1], want[0]
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(src.gets) != 3 {
		t.Errorf("manifests read: %v, want the SBOM bundle's and the two tags'", src.gets)
	}
	if c := Count(arts); c[SBOM] != 2 || c[Signature] != 2 || c[Attestation] != 0 {
		t.Errorf("Count = %v", c)
	}
}

func TestSummary(t *testing.T) {
	arts := []Artifact{{Kind: Signature}, {Kind: SBOM}, {Kind: Signature}, {Kind: Other}}
	if got := Summary(arts); got != "+2 signatures, +1 SBOM, +1 artifact" {
		t.Errorf("Summary = %q", got)
	}
	if got := Summary([]Artifact{{Kind: Attestation}, {Kind: SBOM}, {Kind: SBOM}}); got != "+1 attestation, +2 SBOMs" {
		t.Errorf("Summary = %q", got)
	}
	if Summary(nil) != "" {
		t.Error("Summary of none is not empty")
	}
}

func TestDescriptorAndMerge(t *testing.T) {
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json"},"annotations":{"a":"b"}}`)
	d, err := Descriptor(manifest, "application/vnd.oci.image.manifest.v1+json")
	if err != nil || d.ArtifactType != "application/vnd.oci.empty.v1+json" || d.Annotations["a"] != "b" ||
		d.Digest.String() != digest.FromBytes(manifest).String() || d.Size != int64(len(manifest)) {
		t.Fatalf("Descriptor = %+v, %v", d, err)
	}
	other := v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: hash("theirs"), Size: 3, ArtifactType: "x/y"}
	theirs, changed, err := MergeIndex(nil, []v1.Descriptor{other})
	if err != nil || !changed {
		t.Fatal(err)
	}
	merged, changed, err := MergeIndex(theirs, []v1.Descriptor{d, other})
	if err != nil || !changed {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(merged, &im); err != nil {
		t.Fatal(err)
	}
	if im.SchemaVersion != 2 || im.MediaType != "application/vnd.oci.image.index.v1+json" || len(im.Manifests) != 2 ||
		im.Manifests[0].Digest != other.Digest || im.Manifests[1].Digest != d.Digest || !Lists(im.Manifests, []v1.Descriptor{d, other}) {
		t.Errorf("merged index: %s", merged)
	}
	if again, changed, err := MergeIndex(merged, []v1.Descriptor{d}); err != nil || changed || string(again) != string(merged) {
		t.Errorf("merging what is listed changed the index: %s, %v", again, err)
	}
	if Lists(im.Manifests[:1], []v1.Descriptor{d}) {
		t.Error("Lists found a descriptor that is not listed")
	}
	if _, _, err := MergeIndex([]byte("{"), []v1.Descriptor{d}); err == nil {
		t.Error("a broken index was merged into")
	}
}

// TestListedChecks: a listing longer than max_per_subject is refused
// before any manifest is read; a referrer whose manifest is read and names
// another subject (or none) is refused.
func TestListedChecks(t *testing.T) {
	subject := digest.FromString("image")
	three := registry.ReferrerList{API: true, Descriptors: []v1.Descriptor{
		{Digest: hash("a")}, {Digest: hash("b")}, {Digest: hash("c")}, {Digest: hash("a")},
	}}
	src := &fakeSource{list: three}
	if _, err := listed(context.Background(), src, subject, 2); !errors.Is(err, registry.ErrLimit) || !strings.Contains(err.Error(), "3 listed") ||
		!strings.Contains(err.Error(), "max_per_subject = 2") || len(src.gets) != 0 {
		t.Errorf("err = %v after %d reads, want the limit before any read", err, len(src.gets))
	}
	for _, tc := range []struct{ name, manifest, want string }{
		{"another subject", `{"artifactType":"a/b","subject":{"digest":"` + digest.FromString("other").String() + `"}}`, "names the subject " + digest.FromString("other").String()},
		{"no subject", `{"artifactType":"a/b"}`, "names no subject"},
	} {
		src := &fakeSource{list: registry.ReferrerList{API: true, Descriptors: []v1.Descriptor{{Digest: hash("x")}}},
			manifests: map[digest.Digest]string{digest.FromString("x"): tc.manifest}}
		if _, err := listed(context.Background(), src, subject, 0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// Package referrers finds what upstream publishes alongside an image:
// signatures, attestations, SBOMs and other artifacts, in the two schemes
// in use. OCI 1.1 referrers are manifests whose subject is the image,
// listed by the registry's referrers API or, on registries without it, by
// the index tagged "sha256-<hex>"; cosign's classic scheme puts them under
// the tags "sha256-<hex>.sig", ".att" and ".sbom" next to the image.
//
// The model (this file) says what an artifact is and how it is counted;
// find.go discovers them in a repository. Copying them is internal/apply's
// job, pinning them internal/lock/resolve's; missing.go checks what a
// target lacks of those pinned, for plan and verify.
package referrers

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Via says how an artifact is attached to its subject.
type Via string

const (
	// ViaReferrers: an OCI referrer, whose manifest names the subject.
	ViaReferrers Via = "referrers"
	// ViaTag: cosign's classic tag next to the image.
	ViaTag Via = "tag"
)

// Kind is what an artifact is for, for people: a plan counts them so.
type Kind string

const (
	Signature   Kind = "signature"
	Attestation Kind = "attestation"
	SBOM        Kind = "sbom"
	Other       Kind = "artifact"
)

// Kinds lists the kinds in the order they are shown.
var Kinds = []Kind{Signature, Attestation, SBOM, Other}

// Artifact is one manifest attached to an image, pinned by digest.
type Artifact struct {
	Digest digest.Digest
	// ArtifactType is the manifest's artifactType, else its config's
	// media type, else (cosign's classic tags, whose config is a plain
	// image config) the media type of its first layer.
	ArtifactType string
	Kind         Kind
	// Subject is the manifest it is attached to: the image's index or
	// manifest, or one of the index's children.
	Subject digest.Digest
	Via     Via
	// Tag is cosign's tag for Via == ViaTag ("sha256-<hex>.sig").
	Tag string
}

// Sort orders artifacts as the lock lists them: by subject, then by tag
// (referrers, which have none, first), then by digest.
func Sort(arts []Artifact) {
	slices.SortFunc(arts, func(a, b Artifact) int {
		return cmp.Or(strings.Compare(a.Subject.String(), b.Subject.String()), strings.Compare(a.Tag, b.Tag),
			strings.Compare(a.Digest.String(), b.Digest.String()))
	})
}

// Count counts artifacts by kind.
func Count(arts []Artifact) map[Kind]int {
	out := map[Kind]int{}
	for _, a := range arts {
		out[a.Kind]++
	}
	return out
}

// nouns names the kinds in summaries, singular and plural.
var nouns = map[Kind][2]string{
	Signature: {"signature", "signatures"}, Attestation: {"attestation", "attestations"},
	SBOM: {"SBOM", "SBOMs"}, Other: {"artifact", "artifacts"},
}

// Summary counts artifacts for people: "+2 signatures, +1 SBOM"; "" for
// none.
func Summary(arts []Artifact) string {
	counts := Count(arts)
	var parts []string
	for _, k := range Kinds {
		switch n := counts[k]; n {
		case 0:
		case 1:
			parts = append(parts, "+1 "+nouns[k][0])
		default:
			parts = append(parts, fmt.Sprintf("+%d %s", n, nouns[k][1]))
		}
	}
	return strings.Join(parts, ", ")
}

// Artifact types and annotations that say what an artifact is.
const (
	// BundleType is the artifactType of a sigstore bundle (cosign v3's
	// default for signatures and attestations alike).
	BundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// bundlePredicate is the annotation cosign puts on a bundle's
	// manifest: the predicate type of the statement it signs.
	bundlePredicate = "dev.sigstore.bundle.predicateType"
	// layerPredicate is the annotation cosign puts on each layer of a
	// classic ".att" manifest.
	layerPredicate = "predicateType"
	// signPredicate is the predicate type of a cosign v3 signature bundle.
	signPredicate = "https://sigstore.dev/cosign/sign/v1"
)

// Classify says what an artifact of this type is, from its predicate type
// when it carries one (cosign bundles and attestations: an SPDX or
// CycloneDX predicate is an SBOM).
func Classify(artifactType, predicateType string) Kind {
	switch {
	case predicateType == signPredicate:
		return Signature
	case isSBOMPredicate(predicateType):
		return SBOM
	case predicateType != "":
		return Attestation
	}
	switch {
	case strings.HasPrefix(artifactType, "application/vnd.dev.sigstore.bundle"),
		artifactType == "application/vnd.dev.cosign.simplesigning.v1+json",
		artifactType == "application/vnd.dev.cosign.artifact.sig.v1+json",
		artifactType == "application/vnd.cncf.notary.signature":
		return Signature
	case artifactType == "application/vnd.dsse.envelope.v1+json",
		artifactType == "application/vnd.in-toto+json",
		strings.HasPrefix(artifactType, "application/vnd.in-toto."):
		return Attestation
	case strings.Contains(artifactType, "spdx"), strings.Contains(artifactType, "cyclonedx"),
		strings.Contains(artifactType, "syft"):
		return SBOM
	}
	return Other
}

func isSBOMPredicate(p string) bool {
	return strings.HasPrefix(p, "https://spdx.dev/") || strings.HasPrefix(p, "https://cyclonedx.org/")
}

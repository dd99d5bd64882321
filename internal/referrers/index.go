package referrers

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
)

// Descriptor is how a referrers listing (the API's answer, or the
// fallback tag's index) lists a referrer manifest: its media type, digest
// and size, its artifactType (else its config's media type) and its
// annotations, as the OCI distribution spec has it.
func Descriptor(manifest []byte, mediaType string) (v1.Descriptor, error) {
	m, err := parseManifest(manifest)
	if err != nil {
		return v1.Descriptor{}, err
	}
	h, size, err := v1.SHA256(bytes.NewReader(manifest))
	if err != nil {
		return v1.Descriptor{}, err
	}
	d := v1.Descriptor{MediaType: types.MediaType(mediaType), Digest: h, Size: size, ArtifactType: m.ArtifactType, Annotations: m.Annotations}
	if d.ArtifactType == "" {
		d.ArtifactType = m.Config.MediaType
	}
	return d, nil
}

// manifestFields are the fields of a referrer's manifest that say what it
// is.
type manifestFields struct {
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
	Config       struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
	Layers []struct {
		MediaType   string            `json:"mediaType"`
		Annotations map[string]string `json:"annotations"`
	} `json:"layers"`
	Subject *struct {
		Digest string `json:"digest"`
	} `json:"subject"`
}

// CheckSubject makes sure a referrer's manifest names subject as its
// subject: a listing (the registry's API, or the fallback tag's index)
// may list anything, the manifest's bytes are what they are.
func CheckSubject(manifest []byte, subject digest.Digest) error {
	m, err := parseManifest(manifest)
	if err != nil {
		return err
	}
	switch {
	case m.Subject == nil:
		return fmt.Errorf("its manifest names no subject, it is listed for %s", subject)
	case m.Subject.Digest != subject.String():
		return fmt.Errorf("its manifest names the subject %s, it is listed for %s", m.Subject.Digest, subject)
	}
	return nil
}

func parseManifest(data []byte) (manifestFields, error) {
	var m manifestFields
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("parse referrer manifest: %w", err)
	}
	return m, nil
}

// MergeIndex adds descriptors to a fallback tag's index (nil: there is
// none yet), keeping every entry it has, in order: a merge never drops
// what another client attached. It reports false when every descriptor
// was listed already, and there is nothing to write.
func MergeIndex(existing []byte, add []v1.Descriptor) ([]byte, bool, error) {
	im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	if existing != nil {
		if err := json.Unmarshal(existing, &im); err != nil {
			return nil, false, fmt.Errorf("parse the fallback index: %w", err)
		}
	}
	listed := map[v1.Hash]bool{}
	for _, d := range im.Manifests {
		listed[d.Digest] = true
	}
	changed := false
	for _, d := range add {
		if !listed[d.Digest] {
			im.Manifests, listed[d.Digest], changed = append(im.Manifests, d), true, true
		}
	}
	if !changed {
		return existing, false, nil
	}
	data, err := json.Marshal(im)
	return data, true, err
}

// Lists reports whether every descriptor is among those listed.
func Lists(listed, want []v1.Descriptor) bool {
	have := map[v1.Hash]bool{}
	for _, d := range listed {
		have[d.Digest] = true
	}
	for _, d := range want {
		if !have[d.Digest] {
			return false
		}
	}
	return true
}

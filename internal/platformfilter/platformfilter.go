// Package platformfilter chooses the children of a multi-platform index
// that are mirrored when only some platforms are wanted, and writes the
// index that lists only them (platform_mode = "filter"). It is pure: the
// lock computes the new index's digest with it, and apply pushes the very
// same bytes, so both must agree to the byte.
package platformfilter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
)

// BuildKit lists the attestation manifest of a platform image in the same
// index, as an "unknown/unknown" entry with these annotations.
const (
	referenceTypeAnnotation   = "vnd.docker.reference.type"
	referenceDigestAnnotation = "vnd.docker.reference.digest"
	attestationManifestType   = "attestation-manifest"
)

// Selection is which entries of an index are mirrored.
type Selection struct {
	// Kept are the chosen platform images and the BuildKit attestation
	// manifests that describe them, in index order.
	Kept []v1.Descriptor
	// Missing are the wanted platforms that no entry provides, as written.
	Missing []string
}

// Select chooses, among an index's entries, the images of the wanted
// platforms ("os/arch[/variant]", matched as containerd matches them, so
// that "linux/arm64" takes a "linux/arm64/v8" image) and the attestation
// manifests BuildKit attached to them.
func Select(entries []v1.Descriptor, want []string) (Selection, error) {
	var matchers []platforms.Matcher
	for _, w := range want {
		p, err := platforms.Parse(w)
		if err != nil {
			return Selection{}, fmt.Errorf("platform %q: %w", w, err)
		}
		matchers = append(matchers, platforms.NewMatcher(p))
	}
	found := make([]bool, len(want))
	kept := map[string]bool{}
	var sel Selection
	for _, e := range entries {
		if e.Platform == nil || isAttestation(e) {
			continue
		}
		for i, m := range matchers {
			if m.Match(specOf(*e.Platform)) {
				found[i], kept[e.Digest.String()] = true, true
			}
		}
	}
	for _, e := range entries {
		if kept[e.Digest.String()] || (isAttestation(e) && kept[e.Annotations[referenceDigestAnnotation]]) {
			sel.Kept = append(sel.Kept, e)
		}
	}
	for i, ok := range found {
		if !ok {
			sel.Missing = append(sel.Missing, want[i])
		}
	}
	return sel, nil
}

// Keeps reports whether the selection keeps an entry, for reading only the
// kept children of an index.
func (s Selection) Keeps(d v1.Descriptor) bool {
	return slices.ContainsFunc(s.Kept, func(k v1.Descriptor) bool { return k.Digest == d.Digest })
}

// isAttestation reports whether an entry is an attestation manifest
// BuildKit attached to a platform image of the index.
func isAttestation(e v1.Descriptor) bool {
	return e.Annotations[referenceTypeAnnotation] == attestationManifestType && e.Annotations[referenceDigestAnnotation] != ""
}

func specOf(p v1.Platform) platforms.Platform {
	return platforms.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion}
}

// Filter writes the index that lists only the kept entries of index (the
// bytes of an OCI index or Docker manifest list), each entry exactly as
// the original lists it, every other field of the index kept. The output
// is deterministic (fields in sorted order, no insignificant space), so
// that every machine computes the same digest for it.
func Filter(index []byte, keep func(v1.Descriptor) bool) ([]byte, digest.Digest, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(index, &fields); err != nil {
		return nil, "", fmt.Errorf("parse index: %w", err)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(fields["manifests"], &entries); err != nil {
		return nil, "", fmt.Errorf("parse index manifests: %w", err)
	}
	kept := []json.RawMessage{}
	for _, raw := range entries {
		var d v1.Descriptor
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, "", fmt.Errorf("parse index entry: %w", err)
		}
		if keep(d) {
			kept = append(kept, raw)
		}
	}
	list, err := json.Marshal(kept)
	if err != nil {
		return nil, "", err
	}
	fields["manifests"] = list
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(fields); err != nil {
		return nil, "", err
	}
	data := bytes.TrimSuffix(out.Bytes(), []byte("\n"))
	return data, digest.FromBytes(data), nil
}

package kustomize

import (
	"fmt"

	"sigs.k8s.io/kustomize/api/types"
)

// Reference is one path or URL a kustomization file names: a base, a
// resource, a component, a patch or generator file.
type Reference struct {
	Field  string // e.g. "resources", "components", "patches.path"
	Value  string // as written
	Remote bool   // kustomize would fetch it: discovery refuses it
}

// Read decodes the content of a kustomization file as kustomize does and
// returns its kind ("Kustomization" or "Component") and every path or URL
// it names, for a caller that maps a tree of kustomizations without
// building them (imagesync init: which are overlays, which only bases).
func Read(data []byte) (kind string, refs []Reference, err error) {
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return "", nil, fmt.Errorf("read kustomization: %w", err)
	}
	k.FixKustomization()
	for _, r := range references(&k) {
		refs = append(refs, Reference{Field: r.field, Value: r.value, Remote: remote(r.value)})
	}
	return k.Kind, refs, nil
}

package kustomize

import (
	"reflect"
	"testing"
)

func TestRead(t *testing.T) {
	kind, refs, err := Read([]byte(`resources:
- ../../base
- github.com/org/repo//deploy?ref=v1
components:
- ../../components/x
patches:
- path: patch.yaml
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Reference{{"resources", "../../base", false}, {"resources", "github.com/org/repo//deploy?ref=v1", true},
		{"components", "../../components/x", false}, {"patches.path", "patch.yaml", false}}
	if kind != "Kustomization" || !reflect.DeepEqual(refs, want) {
		t.Errorf("Read = %q %+v", kind, refs)
	}
	if kind, _, err := Read([]byte("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n")); err != nil || kind != "Component" {
		t.Errorf("component: %q %v", kind, err)
	}
	if _, _, err := Read([]byte("resources: {a: 1}\n")); err == nil {
		t.Error("a malformed kustomization read without error")
	}
}

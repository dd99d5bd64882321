// Package kube reads Kubernetes objects from YAML and finds the container
// images in them: what a cluster pulls for every pod template (containers,
// initContainers, ephemeralContainers, image volumes) and the string
// fields named "image" of custom resources. It reads bytes and objects,
// never files, so that Helm output, kustomize output and plain manifests
// all go through the same rules, and a later rewrite of those fields can
// walk objects with the same Images function.
package kube

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Object is one Kubernetes object decoded from YAML.
type Object struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string // "" when the object does not say
	// Content is the whole object as decoded: maps are map[string]any,
	// lists []any, scalars string, int, float64, bool or nil.
	Content map[string]any
}

// Group is the API group of the object's apiVersion ("" for the core
// group, "apps" for "apps/v1").
func (o *Object) Group() string {
	group, _, found := strings.Cut(o.APIVersion, "/")
	if !found {
		return ""
	}
	return group
}

// Decode reads every object of a YAML stream: several documents separated
// by "---", and the items of List kinds ("List", "DeploymentList", ...: a
// kind ending in List with an items list) in their place. Empty documents
// are skipped. A key repeated in a mapping takes its last value, as helm
// template and kubectl read it (sigs.k8s.io/yaml), where yaml.v3 alone
// refuses the document. A document that is not a mapping, or an object
// without apiVersion or kind, is an error naming the document (counted
// from 1); the objects of the other documents still come back with it.
func Decode(data []byte) ([]Object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var objs []Object
	var errs []error
	for doc := 1; ; doc++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The decoder cannot resynchronise after a syntax error:
			// the documents after it are lost, and that is said.
			errs = append(errs, fmt.Errorf("document %d: %w", doc, err))
			break
		}
		lastKeyWins(&node, map[*yaml.Node]bool{})
		var v any
		if err := node.Decode(&v); err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", doc, err))
			continue
		}
		if v == nil {
			continue
		}
		found, err := objects(v, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", doc, err))
		}
		objs = append(objs, found...)
	}
	return objs, errors.Join(errs...)
}

// FromContent is the objects of one decoded document (as Decode decodes
// it: maps are map[string]any, lists []any): itself, or the items of a
// List.
func FromContent(content map[string]any) ([]Object, error) {
	return objects(content, 0)
}

// ErrNotObject is wrapped by the error about a document that is no
// Kubernetes object (not a mapping, or without apiVersion or kind), as
// opposed to YAML that cannot be read at all.
var ErrNotObject = errors.New("not a Kubernetes object")

// maxListDepth bounds Lists nested in Lists, which Kubernetes never
// produces but a hostile file could.
const maxListDepth = 8

// objects turns one decoded document into its objects: itself, or the
// items of a List.
func objects(v any, depth int) ([]Object, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: a YAML %s, not a mapping", ErrNotObject, yamlKind(v))
	}
	o := Object{Content: m}
	o.APIVersion, _ = m["apiVersion"].(string)
	o.Kind, _ = m["kind"].(string)
	if o.APIVersion == "" || o.Kind == "" {
		return nil, fmt.Errorf("%w: no apiVersion or kind", ErrNotObject)
	}
	if strings.HasSuffix(o.Kind, "List") {
		if items, isList := m["items"].([]any); isList {
			if depth >= maxListDepth {
				return nil, fmt.Errorf("%s nested more than %d deep", o.Kind, maxListDepth)
			}
			var out []Object
			var errs []error
			for i, item := range items {
				found, err := objects(item, depth+1)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s items[%d]: %w", o.Kind, i, err))
				}
				out = append(out, found...)
			}
			return out, errors.Join(errs...)
		}
	}
	if meta, ok := m["metadata"].(map[string]any); ok {
		o.Name, _ = meta["name"].(string)
		o.Namespace, _ = meta["namespace"].(string)
	}
	return []Object{o}, nil
}

// yamlKind names the YAML type of a decoded value, for messages.
func yamlKind(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case map[any]any:
		return "mapping with non-string keys"
	case string:
		return "string"
	default:
		return "scalar"
	}
}

// lastKeyWins drops from every mapping under n the pairs whose key comes
// again later in the same mapping, so that the last value of a repeated
// key is the one decoded. Merge keys ("<<") are left alone: each merges.
func lastKeyWins(n *yaml.Node, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	if n.Kind == yaml.MappingNode && len(n.Content) >= 4 {
		last := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value != "<<" {
				last[k.Tag+"\x00"+k.Value] = i
			}
		}
		if len(last) < len(n.Content)/2 {
			kept := n.Content[:0:0]
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind == yaml.ScalarNode && k.Value != "<<" && last[k.Tag+"\x00"+k.Value] != i {
					continue
				}
				kept = append(kept, n.Content[i], n.Content[i+1])
			}
			n.Content = kept
		}
	}
	for _, c := range n.Content {
		lastKeyWins(c, seen)
	}
	lastKeyWins(n.Alias, seen)
}

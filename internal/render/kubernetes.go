package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/kube"
)

// maxListDepth bounds Lists nested in Lists, as kube.Decode does: a hostile
// stream cannot make the rewrite recurse without end.
const maxListDepth = 8

// KubernetesResult is a YAML stream with the images of the lock rewritten.
type KubernetesResult struct {
	Data []byte
	// Rewritten counts the image fields now pointing at the target.
	Rewritten int
	// LeftAlone names each image field left as it was, with why: an image
	// images.lock does not hold, or a value that is no reference.
	LeftAlone []string
	// Unlocked counts the images among LeftAlone that images.lock does not
	// hold (what --strict refuses).
	Unlocked int
}

// Kubernetes rewrites every image field of a YAML stream that discovery
// would read (kube.Images: the containers, init containers, ephemeral
// containers and image volumes of every pod template, and the "image"
// fields of custom resources) to <target repository>@<digest> when
// images.lock holds the image, by its upstream reference or by its target
// reference. Everything else of the stream (other fields, comments, key
// order, other documents) is written back as it was. A build of the
// repository must be in the target with the locked inputs; every one that
// is not is listed in one error and nothing is written.
func Kubernetes(stream []byte, pins *Pins) (*KubernetesResult, error) {
	res := &KubernetesResult{}
	var notBuilt notBuiltError
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	dec := yaml.NewDecoder(bytes.NewReader(stream))
	for doc := 1; ; doc++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		var content any
		if err := node.Decode(&content); err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		obj, _ := content.(map[string]any)
		if obj != nil {
			r := rewriter{pins: pins, res: res, notBuilt: &notBuilt, doc: doc}
			r.object(&node, obj, nil, 0)
		}
		if err := enc.Encode(&node); err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	if err := notBuilt.err(); err != nil {
		return nil, err
	}
	res.Data = out.Bytes()
	return res, nil
}

// rewriter rewrites the image fields of one document.
type rewriter struct {
	pins     *Pins
	res      *KubernetesResult
	notBuilt *notBuiltError
	doc      int
}

// object rewrites the image fields of obj, found at prefix in the
// document (the items of a List kind are objects of their own).
func (r *rewriter) object(root *yaml.Node, obj map[string]any, prefix kube.Path, depth int) {
	kind, _ := obj["kind"].(string)
	if items, ok := obj["items"].([]any); ok && strings.HasSuffix(kind, "List") && depth < maxListDepth {
		for i, item := range items {
			if m, ok := item.(map[string]any); ok {
				r.object(root, m, append(append(kube.Path{}, prefix...), kube.Step{Key: "items"}, kube.Step{Index: i}), depth+1)
			}
		}
		return
	}
	metadata, _ := obj["metadata"].(map[string]any)
	name, _ := metadata["name"].(string)
	for _, f := range kube.Images(obj) {
		where := fmt.Sprintf("document %d, %s/%s %s", r.doc, kind, name, f.Path)
		r.field(root, append(append(kube.Path{}, prefix...), f.Path...), f.Value, where)
	}
}

// field rewrites one image field, or says why it is left alone.
func (r *rewriter) field(root *yaml.Node, path kube.Path, value, where string) {
	ref, err := imageref.Parse(value)
	if err != nil {
		r.res.LeftAlone = append(r.res.LeftAlone, fmt.Sprintf("%s: %q is not an image reference", where, value))
		return
	}
	pin, ok := r.lookup(ref)
	switch {
	case !ok:
		r.res.LeftAlone = append(r.res.LeftAlone, fmt.Sprintf("%s: %s is not in images.lock", where, ref))
		r.res.Unlocked++
		return
	case pin.Problem != "":
		r.notBuilt.add(where, pin.Problem)
		return
	}
	if n := nodeAt(root, path); n != nil {
		n.Value, n.Tag, n.Style = pin.Ref(), "!!str", 0
		r.res.Rewritten++
	}
}

// lookup finds ref in the lock by its upstream reference, or by its
// target reference (a chart already pointed at the mirror).
func (r *rewriter) lookup(ref imageref.Ref) (imagePin, bool) {
	if pin, ok := r.pins.lookup(ref); ok {
		return pin, true
	}
	for _, p := range r.pins.all {
		if p.Target == ref || (ref.IsDigestOnly() && p.Target.Repository() == ref.Repository() && p.Digest == ref.Digest()) {
			return p, true
		}
	}
	return imagePin{}, false
}

// nodeAt is the scalar node at path below a document node, or nil.
func nodeAt(n *yaml.Node, path kube.Path) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, step := range path {
		switch {
		case n.Kind == yaml.AliasNode:
			return nil // a value shared through an anchor is not rewritten in one place
		case step.Key != "" && n.Kind == yaml.MappingNode:
			n = mappingValue(n, step.Key)
		case step.Key == "" && n.Kind == yaml.SequenceNode && step.Index < len(n.Content):
			n = n.Content[step.Index]
		default:
			return nil
		}
		if n == nil {
			return nil
		}
	}
	if n.Kind != yaml.ScalarNode {
		return nil
	}
	return n
}

// mappingValue is the value node of key in a mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

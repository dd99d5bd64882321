package kube

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Field is one image reference in an object: where it is and what it says.
type Field struct {
	Path  Path
	Value string
	// Pod is true for an image a kubelet pulls: a container of a pod
	// template, or an image volume. False for an "image" field of a
	// custom resource, which is most often an image an operator runs but
	// may mean something else.
	Pod bool
}

// Path locates a field from the root of its object.
type Path []Step

// Step is one step of a Path: a map key, or an element of a list.
type Step struct {
	Key string // the map key; "" for a list element
	// Index is a list element's position; Name is its "name" field, or ""
	// when it has none.
	Index int
	Name  string
}

// String writes the path with list elements by position, as a program
// would address them: "spec.template.spec.containers[0].image".
func (p Path) String() string {
	var b strings.Builder
	for i, s := range p {
		if s.Key == "" {
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.Key)
	}
	return b.String()
}

// Locator names the field as a person would look for it, with list
// elements by their name when they have one, so that it does not change
// when an element moves: "containers[web]" for a container of a pod
// template (wherever the kind keeps it), "volumes[models].image" for an
// image volume, the whole path ("spec.image", "spec.sidecars[proxy].image")
// in a custom resource.
func (f Field) Locator() string {
	p := f.Path
	if f.Pod {
		// From the pod spec's list on: the kind decides what comes before.
		for i := len(p) - 1; i >= 0; i-- {
			if slices.Contains(podImageLists, p[i].Key) {
				p = p[i:]
				break
			}
		}
		switch {
		case len(p) == 3 && p[2].Key == "image":
			p = p[:2] // containers[web].image -> containers[web]
		case len(p) == 4 && p[0].Key == "volumes":
			p = p[:3] // volumes[models].image.reference -> volumes[models].image
		}
	}
	var b strings.Builder
	for i, s := range p {
		switch {
		case s.Key != "" && i > 0:
			b.WriteString("." + s.Key)
		case s.Key != "":
			b.WriteString(s.Key)
		case s.Name != "":
			b.WriteString("[" + s.Name + "]")
		default:
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
		}
	}
	return b.String()
}

// containerLists are the lists of a pod spec whose elements run an image.
var containerLists = []string{"containers", "initContainers", "ephemeralContainers"}

// podImageLists are the lists of a pod spec that hold images: the
// containers, and image volumes (volumes[].image.reference).
var podImageLists = append(slices.Clone(containerLists), "volumes")

// podSpecPaths are where each workload kind of the built-in API groups
// keeps its pod spec.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"PodTemplate":           {"template", "spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// workloadGroups are the API groups the kinds of podSpecPaths live in,
// now or in older API versions (extensions/v1beta1 Deployments, batch
// v1beta1 CronJobs).
var workloadGroups = []string{"", "apps", "batch", "extensions"}

// Images returns every image reference of obj, in document order (map
// keys sorted):
//   - for the workload kinds of the built-in API groups (Pod, PodTemplate,
//     Deployment, StatefulSet, DaemonSet, ReplicaSet,
//     ReplicationController, Job, CronJob), the image of every container,
//     init container and ephemeral container of the pod template, and the
//     reference of every image volume; nothing else of the object;
//   - for any other kind of a built-in group (a group without a dot, or
//     ending in .k8s.io: ConfigMap, Service, RoleBinding, ...), nothing;
//   - for custom resources, every string field named "image", at any
//     depth. Fields with other names (roleRef, configMapRef, ...) are
//     never images, and an "image" that is not a string (a map of
//     repository and tag) is not one either.
func Images(obj map[string]any) []Field {
	kind, _ := obj["kind"].(string)
	apiVersion, _ := obj["apiVersion"].(string)
	group := (&Object{APIVersion: apiVersion}).Group()
	if specPath, ok := podSpecPaths[kind]; ok && slices.Contains(workloadGroups, group) {
		return podImages(obj, specPath)
	}
	if builtinGroup(group) {
		return nil
	}
	var out []Field
	walkImages(obj, nil, &out)
	return out
}

// builtinGroup reports whether group is one of Kubernetes' own: custom
// resource groups must contain a dot, and .k8s.io is reserved.
func builtinGroup(group string) bool {
	return !strings.Contains(group, ".") || strings.HasSuffix(group, ".k8s.io")
}

// podImages returns the images of the pod spec at specPath.
func podImages(obj map[string]any, specPath []string) []Field {
	spec := obj
	var path Path
	for _, key := range specPath {
		next, ok := spec[key].(map[string]any)
		if !ok {
			return nil
		}
		spec, path = next, append(path, Step{Key: key})
	}
	var out []Field
	for _, list := range containerLists {
		items, _ := spec[list].([]any)
		for i, item := range items {
			c, ok := item.(map[string]any)
			if !ok {
				continue
			}
			if image, ok := c["image"].(string); ok {
				p := slices.Concat(path, Path{{Key: list}, element(c, i), {Key: "image"}})
				out = append(out, Field{Path: p, Value: image, Pod: true})
			}
		}
	}
	volumes, _ := spec["volumes"].([]any)
	for i, item := range volumes {
		v, _ := item.(map[string]any)
		image, _ := v["image"].(map[string]any)
		if ref, ok := image["reference"].(string); ok {
			p := slices.Concat(path, Path{{Key: "volumes"}, element(v, i), {Key: "image"}, {Key: "reference"}})
			out = append(out, Field{Path: p, Value: ref, Pod: true})
		}
	}
	return out
}

// element is the step to the i-th element m of a list.
func element(m map[string]any, i int) Step {
	name, _ := m["name"].(string)
	return Step{Index: i, Name: name}
}

// walkImages appends every string field named "image" under v.
func walkImages(v any, path Path, out *[]Field) {
	switch v := v.(type) {
	case map[string]any:
		for _, key := range slices.Sorted(maps.Keys(v)) {
			p := append(slices.Clip(path), Step{Key: key})
			if s, ok := v[key].(string); ok && key == "image" {
				*out = append(*out, Field{Path: p, Value: s})
				continue
			}
			walkImages(v[key], p, out)
		}
	case []any:
		for i, item := range v {
			m, _ := item.(map[string]any)
			walkImages(item, append(slices.Clip(path), element(m, i)), out)
		}
	}
}

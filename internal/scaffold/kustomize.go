package scaffold

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/imagesync/imagesync/internal/kustomize"
)

// Kustomization is a directory holding a kustomization file, as init maps
// the tree of them without building any.
type Kustomization struct {
	Dir  string // slash path relative to the root
	Kind string // "Kustomization" or "Component"
	// Uses are the kustomization directories it names (bases, resources,
	// components), relative to the root.
	Uses []string
	// Files are the other files it names (resources, patches, generator
	// inputs), relative to the root: covered by the build, no manifests
	// of their own.
	Files []string
	// Remote are the references kustomize would fetch: discovery, which
	// is offline, refuses them.
	Remote []string
	// Outside are the references that leave the repository.
	Outside []string
}

// readKustomization maps the kustomization of dir, whose file content is
// data; isDir tells which of the paths it names are directories.
func readKustomization(dir string, data []byte, isDir func(string) bool) (Kustomization, error) {
	kind, refs, err := kustomize.Read(data)
	if err != nil {
		return Kustomization{}, err
	}
	k := Kustomization{Dir: dir, Kind: kind}
	for _, r := range refs {
		switch p := path.Join(dir, r.Value); {
		case r.Remote:
			k.Remote = append(k.Remote, r.Value)
		case p == ".." || strings.HasPrefix(p, "../"):
			k.Outside = append(k.Outside, r.Value)
		case isDir(p):
			k.Uses = append(k.Uses, p)
		default:
			k.Files = append(k.Files, p)
		}
	}
	return k, nil
}

// overlays returns the kustomizations to build: every Kustomization (not
// Component) that no other found kustomization uses. The others are
// reached through them: building a base alone would only repeat its
// overlays' images with other tags, or none at all.
func overlays(ks []Kustomization) []Kustomization {
	used := map[string]bool{}
	for _, k := range ks {
		for _, u := range k.Uses {
			if u != k.Dir {
				used[u] = true
			}
		}
	}
	var out []Kustomization
	for _, k := range ks {
		if k.Kind != "Component" && !used[k.Dir] {
			out = append(out, k)
		}
	}
	return out
}

// reachedFrom lists the kustomization directories dir uses, directly or
// not, sorted, less dir itself.
func reachedFrom(dir string, byDir map[string]Kustomization) []string {
	seen := map[string]bool{dir: true}
	queue := []string{dir}
	var out []string
	for len(queue) > 0 {
		k := byDir[queue[0]]
		queue = queue[1:]
		for _, u := range k.Uses {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
				queue = append(queue, u)
			}
		}
	}
	slices.Sort(out)
	return out
}

// kustomizeLeftOut says why an overlay cannot be built offline, "" when
// it can as far as init can tell without building it.
func kustomizeLeftOut(k Kustomization, byDir map[string]Kustomization) string {
	for _, d := range append([]string{k.Dir}, reachedFrom(k.Dir, byDir)...) {
		r := byDir[d]
		if len(r.Remote) > 0 {
			return fmt.Sprintf("%s names %q, which kustomize would fetch: discovery is offline; copy it into the repository "+
				"(kustomize localize does) and refer to the copy", join(d, "kustomization"), r.Remote[0])
		}
		if len(r.Outside) > 0 {
			return fmt.Sprintf("%s names %q, outside the repository", join(d, "kustomization"), r.Outside[0])
		}
	}
	return ""
}

// covered reports whether a file is part of a kustomize tree: in a
// kustomization's directory, or named by one.
func covered(file string, ks []Kustomization) bool {
	for _, k := range ks {
		if path.Dir(file) == k.Dir || slices.Contains(k.Files, file) {
			return true
		}
	}
	return false
}

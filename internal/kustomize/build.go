// Package kustomize builds a kustomization directory as `kustomize build`
// does, with kustomize's own library (sigs.k8s.io/kustomize/api): bases,
// overlays, components, patches and the images: transformer. Discovery is
// offline, so a kustomization that points at anything remote (a git
// repository, an http URL) is refused before kustomize would fetch it, and
// every kustomization it uses must be inside the repository.
package kustomize

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// ErrRemote is wrapped by the error about a remote reference.
var ErrRemote = errors.New("remote reference")

// Build builds the kustomization in dir (absolute, inside the absolute
// directory root) and returns its objects as one YAML stream. Plugins,
// exec functions and Helm inflation stay disabled, as kustomize's
// defaults have them.
func Build(root, dir string) ([]byte, error) {
	c := &checker{root: root, seen: map[string]bool{}}
	if err := c.check(dir); err != nil {
		return nil, err
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", err)
	}
	data, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", err)
	}
	return data, nil
}

// IsKustomizationFile reports whether a file name is one kustomize reads
// as a kustomization (kustomization.yaml, kustomization.yml,
// Kustomization): such a file is not a manifest.
func IsKustomizationFile(name string) bool {
	return slices.Contains(konfig.RecognizedKustomizationFileNames(), name)
}

// checker walks a kustomization and the local ones it uses, once each.
type checker struct {
	root string
	seen map[string]bool
}

// check refuses, in the kustomization of dir and in every local
// kustomization it uses, a reference kustomize would fetch and a directory
// outside the repository.
func (c *checker) check(dir string) error {
	if c.seen[dir] {
		return nil
	}
	c.seen[dir] = true
	file, data := kustomizationFile(dir)
	if file == "" {
		return nil // kustomize says what is missing
	}
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return fmt.Errorf("%s: %w", c.rel(file), err)
	}
	k.FixKustomization()
	for _, e := range references(&k) {
		if remote(e.value) {
			return fmt.Errorf("%s: %s: %q is a %w that discovery, which is offline, will not fetch: "+
				"copy it into the repository (kustomize localize does) and refer to the copy", c.rel(file), e.field, e.value, ErrRemote)
		}
		sub := filepath.Join(dir, filepath.FromSlash(e.value))
		fi, err := os.Stat(sub)
		if err != nil || !fi.IsDir() {
			continue // a file, or missing: kustomize loads it under its own root restrictions
		}
		if !inside(c.root, sub) {
			return fmt.Errorf("%s: %s: %q leaves the repository", c.rel(file), e.field, e.value)
		}
		if err := c.check(sub); err != nil {
			return err
		}
	}
	return nil
}

// rel names a file relative to the repository, for messages.
func (c *checker) rel(file string) string {
	if r, err := filepath.Rel(c.root, file); err == nil {
		return filepath.ToSlash(r)
	}
	return file
}

// kustomizationFile returns the kustomization file of dir and its
// content, or "" when there is none.
func kustomizationFile(dir string) (string, []byte) {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		file := filepath.Join(dir, name)
		if data, err := os.ReadFile(file); err == nil {
			return file, data
		}
	}
	return "", nil
}

// inside reports whether path is root or below it.
func inside(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// reference is one path or URL a kustomization names.
type reference struct {
	field string // e.g. "resources", "patches.path"
	value string
}

// references lists every entry of k that kustomize loads from somewhere:
// bases, resources and components (directories or files), and the files of
// patches, replacements, generators, configurations and the OpenAPI schema.
func references(k *types.Kustomization) []reference {
	var out []reference
	add := func(field string, values ...string) {
		for _, v := range values {
			if v != "" {
				out = append(out, reference{field, v})
			}
		}
	}
	add("resources", k.Resources...)
	add("components", k.Components...)
	add("crds", k.Crds...)
	add("configurations", k.Configurations...)
	add("generators", k.Generators...)
	add("transformers", k.Transformers...)
	add("validators", k.Validators...)
	add("openapi.path", k.OpenAPI["path"])
	for _, p := range k.PatchesStrategicMerge {
		add("patchesStrategicMerge", string(p))
	}
	for _, p := range slices.Concat(k.Patches, k.PatchesJson6902) {
		add("patches.path", p.Path)
	}
	for _, r := range k.Replacements {
		add("replacements.path", r.Path)
	}
	for _, g := range k.ConfigMapGenerator {
		add("configMapGenerator", generatorFiles(g.GeneratorArgs)...)
	}
	for _, g := range k.SecretGenerator {
		add("secretGenerator", generatorFiles(g.GeneratorArgs)...)
	}
	return out
}

// generatorFiles are the files a ConfigMap or Secret generator reads
// ("key=path" entries by their path).
func generatorFiles(g types.GeneratorArgs) []string {
	var out []string
	for _, f := range g.FileSources {
		_, path, found := strings.Cut(f, "=")
		if !found {
			path = f
		}
		out = append(out, path)
	}
	out = append(out, g.EnvSources...)
	if g.EnvSource != "" {
		out = append(out, g.EnvSource)
	}
	return out
}

// scpUser is the "user@" that starts an scp-like git address
// (git@github.com:org/repo).
var scpUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// remote reports whether kustomize would fetch s rather than read it from
// the repository: a URL with a scheme kustomize fetches over (http, https,
// ssh, file, also behind kustomize's "git::" prefix), an scp-like
// "user@host:path", or a GitHub path ("github.com/org/repo"), which
// kustomize clones before it looks for a local directory of that name.
func remote(s string) bool {
	lower := strings.ToLower(s)
	lower = strings.TrimPrefix(lower, "git::")
	for _, prefix := range []string{"http://", "https://", "ssh://", "file://", "git://", "github.com/", "github.com:"} {
		if strings.HasPrefix(lower, prefix) {
			return true
		}
	}
	return scpUser.MatchString(s) || strings.Contains(s, "://")
}

// Package kustomize builds a kustomization directory as `kustomize build`
// does, with kustomize's own library (sigs.k8s.io/kustomize/api): bases,
// overlays, components, patches and the images: transformer. Discovery is
// offline, so a kustomization that points at anything remote (a git
// repository, an http URL) is refused before kustomize would fetch it; and
// kustomize reads through a file system that keeps every file it opens
// inside the repository, under the rule of internal/repofs.
package kustomize

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"

	"github.com/imagesync/imagesync/internal/excerpt"
	"github.com/imagesync/imagesync/internal/repofs"
)

// ErrRemote is wrapped by the error about a remote reference.
var ErrRemote = errors.New("remote reference")

// Build builds the kustomization in dir (a slash path relative to repo,
// or an absolute path beneath it) and returns its objects as one YAML
// stream. Plugins, exec functions and Helm inflation stay disabled, as
// kustomize's defaults have them.
func Build(repo *repofs.Root, dir string) ([]byte, error) {
	real, err := repo.Resolve(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := repo.Stat(real); err != nil || !fi.IsDir() {
		if err == nil {
			err = fmt.Errorf("%s is %s, not a directory", repo.Rel(dir), repofs.KindOf(fi.Mode()))
		}
		return nil, err
	}
	c := &checker{repo: repo, seen: map[string]bool{}}
	if err := c.check(real); err != nil {
		return nil, err
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(confinedFS{repo: repo}, real)
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", excerpt.Error(err))
	}
	data, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", excerpt.Error(err))
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
	repo *repofs.Root
	seen map[string]bool
}

// check refuses, in the kustomization of dir (a real path) and in every
// local kustomization it uses, a reference kustomize would fetch and a
// directory outside the repository.
func (c *checker) check(dir string) error {
	if c.seen[dir] {
		return nil
	}
	c.seen[dir] = true
	file, data, err := c.kustomizationFile(dir)
	if file == "" || err != nil {
		return err // without a file, kustomize says what is missing
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
		fi, err := c.repo.Stat(sub)
		if err == nil && !fi.IsDir() && !fi.Mode().IsRegular() {
			err = &repofs.NotRegularError{Name: c.rel(sub), Kind: repofs.KindOf(fi.Mode())}
		}
		if errors.Is(err, repofs.ErrOutside) || errors.Is(err, repofs.ErrNotRegular) {
			return fmt.Errorf("%s: %s: %q: %w", c.rel(file), e.field, e.value, err)
		}
		if err != nil || !fi.IsDir() {
			continue // a file, or missing: kustomize reads it through the same rule, or says what is missing
		}
		real, err := c.repo.Resolve(sub)
		if err != nil {
			return err
		}
		if err := c.check(real); err != nil {
			return err
		}
	}
	return nil
}

// rel names a file relative to the repository, for messages.
func (c *checker) rel(file string) string { return c.repo.Rel(file) }

// kustomizationFile returns the kustomization file of dir and its
// content, or "" when there is none.
func (c *checker) kustomizationFile(dir string) (string, []byte, error) {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		file := filepath.Join(dir, name)
		if ok, err := c.repo.Exists(file); err != nil {
			return "", nil, err
		} else if !ok {
			continue
		}
		data, err := c.repo.ReadFile(file)
		return file, data, err
	}
	return "", nil, nil
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

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

// Built is what a kustomization builds to.
type Built struct {
	// Objects are the objects built, in kustomize's order, each decoded as
	// a YAML mapping (maps are map[string]any, lists []any): what `kustomize
	// build` prints, without printing and reading it back.
	Objects []map[string]any
	// Warnings are kustomize's deprecation notices, one per deprecated
	// field of each kustomization used, "file: notice" with file relative
	// to the root, in the order the kustomizations were reached.
	// kustomize prints them to os.Stderr itself; discovery shows these.
	Warnings []string
	// Used are the absolute real paths of the directories of the
	// kustomizations used and of the local files they name: what the
	// build covers.
	Used []string
}

// Build builds the kustomization in dir (a slash path relative to repo,
// or an absolute path beneath it). Plugins, exec functions and Helm
// inflation stay disabled, as kustomize's defaults have them. Before
// kustomize runs, every kustomization it would use is read through repo:
// each reference kustomize would fetch, or that leaves the repository, is
// an error, all of them at once.
func Build(repo *repofs.Root, dir string) (*Built, error) {
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
	c.check(real)
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(confinedFS{repo: repo}, real)
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", excerpt.Error(err))
	}
	out := &Built{Warnings: c.warnings, Used: c.used}
	for _, res := range m.Resources() {
		obj, err := res.Map()
		if err != nil {
			return nil, fmt.Errorf("kustomize build: %s: %w", res.CurId(), excerpt.Error(err))
		}
		out.Objects = append(out.Objects, obj)
	}
	return out, nil
}

// IsKustomizationFile reports whether a file name is one kustomize reads
// as a kustomization (kustomization.yaml, kustomization.yml,
// Kustomization): such a file is not a manifest.
func IsKustomizationFile(name string) bool {
	return slices.Contains(konfig.RecognizedKustomizationFileNames(), name)
}

// DeprecationNotices are the notices kustomize prints to os.Stderr for a
// kustomization that uses a deprecated field, every one of them: Built's
// Warnings say the same with the file they concern, so that those lines
// can be recognised and left out where kustomize's own output is caught.
func DeprecationNotices() []string {
	k := types.Kustomization{Bases: []string{}, CommonLabels: map[string]string{}, ImageTags: []types.Image{},
		PatchesJson6902: []types.Patch{}, PatchesStrategicMerge: []types.PatchStrategicMerge{}, Vars: []types.Var{}}
	return *k.CheckDeprecatedFields()
}

// checker walks a kustomization and the local ones it uses, once each.
type checker struct {
	repo     *repofs.Root
	seen     map[string]bool
	errs     []error
	warnings []string
	used     []string
}

// check notes, in the kustomization of dir and in every local
// kustomization it uses, each reference kustomize would fetch and each
// directory outside the repository, its deprecated fields, and what it
// uses.
func (c *checker) check(dir string) {
	if c.seen[dir] {
		return
	}
	c.seen[dir] = true
	c.used = append(c.used, dir)
	file, data, err := c.kustomizationFile(dir)
	if err != nil {
		c.errs = append(c.errs, err)
		return
	}
	if file == "" {
		return // kustomize says what is missing
	}
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %w", c.rel(file), err))
		return
	}
	for _, notice := range *k.CheckDeprecatedFields() {
		c.warnings = append(c.warnings, c.rel(file)+": "+strings.TrimPrefix(notice, "# "))
	}
	k.FixKustomization()
	for _, e := range references(&k) {
		if remote(e.value) {
			c.errs = append(c.errs, fmt.Errorf("%s: %s: %q is a %w that discovery, which is offline, will not fetch: "+
				"copy it into the repository (kustomize localize does) and refer to the copy", c.rel(file), e.field, e.value, ErrRemote))
			continue
		}
		sub := filepath.Join(dir, filepath.FromSlash(e.value))
		fi, err := c.repo.Stat(sub)
		if err == nil && !fi.IsDir() && !fi.Mode().IsRegular() {
			err = &repofs.NotRegularError{Name: c.rel(sub), Kind: repofs.KindOf(fi.Mode())}
		}
		if errors.Is(err, repofs.ErrOutside) || errors.Is(err, repofs.ErrNotRegular) {
			c.errs = append(c.errs, fmt.Errorf("%s: %s: %q: %w", c.rel(file), e.field, e.value, err))
			continue
		}
		if err != nil {
			continue // missing: kustomize says so
		}
		real, err := c.repo.Resolve(sub)
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("%s: %s: %q: %w", c.rel(file), e.field, e.value, err))
			continue
		}
		if !fi.IsDir() {
			c.used = append(c.used, real) // kustomize reads it through the same rule
			continue
		}
		c.check(real)
	}
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

package discover

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
)

// dockerImageScheme prefixes an additional build context that is an image.
const dockerImageScheme = "docker-image://"

// serviceScheme prefixes an additional build context that is the image
// another compose service builds.
const serviceScheme = "service:"

// Run discovers the images of the repository cfg describes: the compose
// files' services and builds, the Dockerfiles those builds use, the further
// Dockerfiles of discover.dockerfiles, and the config's image blocks, less
// the top-level exclude patterns.
func Run(ctx context.Context, cfg *config.Config) (*Result, error) {
	c := newCollector()
	project, err := LoadCompose(ctx, ComposeOptions{
		Root:     cfg.Dir,
		Files:    cfg.Discover.Compose,
		EnvFiles: cfg.Discover.EnvFiles,
		Env:      cfg.Discover.Env,
		UseOSEnv: cfg.Discover.UseOSEnv,
	})
	if err != nil {
		return nil, err
	}
	scanned := map[string]bool{} // Dockerfiles already scanned as part of a build
	if project != nil {
		if err := c.compose(cfg, project, scanned); err != nil {
			return nil, err
		}
	}
	if err := c.dockerfiles(cfg, scanned); err != nil {
		return nil, err
	}
	for _, img := range cfg.Images {
		if _, isBuild := c.builds[img.Ref]; isBuild {
			continue // an image block naming a build output only renames its target
		}
		c.addImage(img.Ref, img.Locator(cfg.Filename))
	}
	return c.result(cfg.Exclude), nil
}

// Service returns the service called name, or nil.
func (p *ComposeProject) Service(name string) *ComposeService {
	for i := range p.Services {
		if p.Services[i].Name == name {
			return &p.Services[i]
		}
	}
	return nil
}

// collector accumulates what discovery finds, deduplicated by reference.
type collector struct {
	images map[imageref.Ref]map[string]bool // ref -> locators
	builds map[imageref.Ref]*Build
}

func newCollector() *collector {
	return &collector{images: map[imageref.Ref]map[string]bool{}, builds: map[imageref.Ref]*Build{}}
}

func (c *collector) addImage(ref imageref.Ref, locator string) {
	if c.images[ref] == nil {
		c.images[ref] = map[string]bool{}
	}
	c.images[ref][locator] = true
}

// compose collects the services of a compose project. Build outputs are
// collected first so that a Dockerfile built FROM another service's image
// is recognised as depending on that build rather than on an upstream image.
func (c *collector) compose(cfg *config.Config, p *ComposeProject, scanned map[string]bool) error {
	var builds []*Build
	for i := range p.Services {
		svc := &p.Services[i]
		if svc.Build == nil {
			continue
		}
		name := svc.Image
		if name == "" {
			name = p.Name + "-" + svc.Name // docker compose's default name for a built image
		}
		ref, err := imageref.Parse(name)
		if err != nil {
			return fmt.Errorf("%s: service %s builds an image with an invalid name: %w", svc.Build.Locator, svc.Name, err)
		}
		if prev, ok := c.builds[ref]; ok {
			return fmt.Errorf("%s: services %s and %s both build %s: give them distinct image names", svc.Build.Locator, prev.Service, svc.Name, ref)
		}
		b := &Build{Ref: ref, Service: svc.Name, Sources: []string{svc.Build.Locator}}
		c.builds[ref] = b
		builds = append(builds, b)
	}
	for i := range p.Services {
		svc := &p.Services[i]
		if svc.Build != nil || svc.Image == "" {
			continue
		}
		ref, err := imageref.Parse(svc.Image)
		if err != nil {
			return fmt.Errorf("%s: service %s: %w", svc.ImageLocator, svc.Name, err)
		}
		if b, ok := c.builds[ref]; ok {
			b.Sources = append(b.Sources, svc.ImageLocator) // runs an image another service builds
			continue
		}
		c.addImage(ref, svc.ImageLocator)
	}
	for _, b := range builds {
		svc := p.Service(b.Service)
		if err := c.composeBuild(cfg, b, svc, scanned); err != nil {
			return err
		}
	}
	return nil
}

func (c *collector) composeBuild(cfg *config.Config, b *Build, svc *ComposeService, scanned map[string]bool) error {
	sb := svc.Build
	b.Context = sb.Context
	b.TargetStage = sb.Target
	b.Platforms = append([]string(nil), sb.Platforms...)
	if len(b.Platforms) == 0 {
		// What gets built depends on the platforms, so the builder's
		// default ones count as the service's own.
		b.Platforms = append([]string(nil), cfg.Builder.Platforms...)
	}
	firstPlatform := "" // the platform ARGs follow the first entry as written, not as sorted
	if len(b.Platforms) > 0 {
		firstPlatform = b.Platforms[0]
	}
	sort.Strings(b.Platforms)
	b.Args = mergeArgs(cfg.Discover.BuildArgs, sb.Args)

	opts := DockerfileOptions{Path: sb.Dockerfile, BuildArgs: b.Args, Target: sb.Target, Platform: firstPlatform,
		NamedContexts: map[string]imageref.Ref{}, LocalContexts: map[string]bool{}}
	for _, key := range sortedKeys(sb.AdditionalContexts) {
		val := sb.AdditionalContexts[key]
		if dep, isService := strings.CutPrefix(val, serviceScheme); isService {
			// Another service's build: a dependency, never an image to mirror.
			opts.LocalContexts[key] = true
			if depBuild := c.serviceBuild(dep); depBuild != nil {
				b.Bases = append(b.Bases, depBuild.Ref)
			}
			continue
		}
		imgName, isImage := strings.CutPrefix(val, dockerImageScheme)
		if !isImage {
			// A directory (or URL) whose files go into the build: its
			// content belongs to the build's inputs.
			opts.LocalContexts[key] = true
			if b.LocalContexts == nil {
				b.LocalContexts = map[string]string{}
			}
			b.LocalContexts[key] = val
			continue
		}
		ctxRef, err := imageref.Parse(imgName)
		if err != nil {
			return fmt.Errorf("%s.additional_contexts.%s: service %s: %w", sb.Locator, key, svc.Name, err)
		}
		opts.NamedContexts[key] = ctxRef
		c.addBase(b, ctxRef, sb.Locator+".additional_contexts."+key)
	}

	var data []byte
	if sb.Inline != "" {
		b.Dockerfile = sb.Locator + ".dockerfile_inline"
		b.Inline = []byte(sb.Inline)
		data = b.Inline
		opts.Path = b.Dockerfile
	} else {
		b.Dockerfile = sb.Dockerfile
		abs, err := insideRoot(cfg.Dir, sb.Dockerfile)
		if err != nil {
			return fmt.Errorf("%s: service %s: %w", sb.Locator, svc.Name, err)
		}
		if data, err = os.ReadFile(abs); err != nil {
			return fmt.Errorf("%s: service %s: read Dockerfile: %w", sb.Locator, svc.Name, err)
		}
		scanned[realPath(abs)] = true
	}
	found, err := ScanDockerfile(data, opts)
	if err != nil {
		return fmt.Errorf("service %s: %w", svc.Name, err)
	}
	b.Scan = found
	for _, f := range found {
		c.addBase(b, f.Ref, f.Locator)
	}
	return nil
}

// serviceBuild returns the build of the compose service called name, or nil.
func (c *collector) serviceBuild(name string) *Build {
	for _, b := range c.builds {
		if b.Service == name {
			return b
		}
	}
	return nil
}

// addBase records that b is built from ref; an upstream image is also
// mirrored, another build of the repository is only a dependency.
func (c *collector) addBase(b *Build, ref imageref.Ref, locator string) {
	b.Bases = append(b.Bases, ref)
	if _, isBuild := c.builds[ref]; !isBuild {
		c.addImage(ref, locator)
	}
}

// dockerfiles scans the Dockerfiles matched by discover.dockerfiles that no
// compose build already scanned (with the service's own arguments).
func (c *collector) dockerfiles(cfg *config.Config, scanned map[string]bool) error {
	files, err := globFiles(cfg.Dir, cfg.Discover.Dockerfiles, cfg.Discover.Exclude)
	if err != nil {
		return err
	}
	for _, rel := range files {
		if strings.HasSuffix(rel, ".dockerignore") {
			continue
		}
		abs, err := insideRoot(cfg.Dir, rel)
		if err != nil {
			return err
		}
		if scanned[realPath(abs)] {
			continue
		}
		data, err := os.ReadFile(abs)
		if err != nil {
			return fmt.Errorf("read %s: %w", rel, err)
		}
		found, err := ScanDockerfile(data, DockerfileOptions{Path: rel, BuildArgs: cfg.Discover.BuildArgs})
		if err != nil {
			return err
		}
		for _, f := range found {
			if b, ok := c.builds[f.Ref]; ok {
				b.Sources = append(b.Sources, f.Locator)
				continue
			}
			c.addImage(f.Ref, f.Locator)
		}
	}
	return nil
}

// globFiles expands doublestar patterns relative to root into sorted,
// slash-separated regular files, less the exclude patterns.
func globFiles(root string, patterns, exclude []config.Pattern) ([]string, error) {
	seen := map[string]bool{}
	fsys := os.DirFS(root)
	for _, p := range patterns {
		// Symbolic links to directories are not followed, as docker does
		// not follow them in a build context: a link loop would otherwise
		// be walked again and again, and a linked directory found twice.
		matches, err := doublestar.Glob(fsys, p.Glob, doublestar.WithFilesOnly(), doublestar.WithNoFollow())
		if err != nil {
			return nil, fmt.Errorf("glob %q: %w", p.Glob, err)
		}
		for _, m := range matches {
			if fi, err := fs.Stat(fsys, m); err == nil && fi.IsDir() {
				continue // WithNoFollow lists a link to a directory as a file
			}
			if !excluded(m, exclude) {
				seen[m] = true
			}
		}
	}
	files := make([]string, 0, len(seen))
	for f := range seen {
		files = append(files, f)
	}
	sort.Strings(files)
	return files, nil
}

// excluded reports whether a path, or a directory above it, matches one of
// the exclude patterns.
func excluded(rel string, exclude []config.Pattern) bool {
	for _, p := range exclude {
		for dir := rel; dir != "." && dir != "/"; dir = path.Dir(dir) {
			if ok, _ := doublestar.Match(p.Glob, dir); ok {
				return true
			}
		}
	}
	return false
}

// insideRoot returns the absolute path of rel and refuses one that leaves
// root, through ".." or through a symbolic link.
func insideRoot(root, rel string) (string, error) {
	abs := filepath.Join(root, filepath.FromSlash(rel))
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if os.IsNotExist(err) {
			return "", fmt.Errorf("%s: %w", rel, fs.ErrNotExist)
		}
		return "", fmt.Errorf("resolve %s: %w", rel, err)
	}
	if r, err := filepath.Rel(realRoot, real); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s leaves the repository (it resolves to %s)", rel, real)
	}
	return abs, nil
}

// realPath is abs with its symbolic links resolved, so that one file
// reached by two paths is recognised as the same.
func realPath(abs string) string {
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}

func mergeArgs(defaults, service map[string]string) map[string]string {
	out := make(map[string]string, len(defaults)+len(service))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range service {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// result returns the sorted, deduplicated findings less the excluded
// references.
func (c *collector) result(exclude []config.Pattern) *Result {
	r := &Result{}
	for ref, locs := range c.images {
		if !refExcluded(ref, exclude) {
			r.Images = append(r.Images, Image{Ref: ref, Sources: sortedKeys(locs)})
		}
	}
	for ref, b := range c.builds {
		if refExcluded(ref, exclude) {
			continue
		}
		b.Sources = uniqueSorted(b.Sources)
		sort.Slice(b.Bases, func(i, j int) bool { return imageref.Less(b.Bases[i], b.Bases[j]) })
		b.Bases = uniqueRefs(b.Bases)
		r.Builds = append(r.Builds, *b)
	}
	sort.Slice(r.Images, func(i, j int) bool { return imageref.Less(r.Images[i].Ref, r.Images[j].Ref) })
	sort.Slice(r.Builds, func(i, j int) bool { return imageref.Less(r.Builds[i].Ref, r.Builds[j].Ref) })
	return r
}

func refExcluded(ref imageref.Ref, exclude []config.Pattern) bool {
	for _, p := range exclude {
		if ok, _ := doublestar.Match(p.Glob, ref.String()); ok {
			return true
		}
	}
	return false
}

func uniqueSorted(s []string) []string {
	set := map[string]bool{}
	for _, v := range s {
		set[v] = true
	}
	return sortedKeys(set)
}

func uniqueRefs(refs []imageref.Ref) []imageref.Ref {
	out := refs[:0]
	for i, r := range refs {
		if i == 0 || r != refs[i-1] {
			out = append(out, r)
		}
	}
	return out
}

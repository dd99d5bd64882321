package discover

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
)

// Run discovers the images of the repository cfg describes: the compose
// files' services and builds, the Dockerfiles those builds use, the further
// Dockerfiles of discover.dockerfiles, the objects of the Helm releases,
// kustomizations and manifests of discover.helm, discover.kustomize and
// discover.kubernetes, and the config's image blocks, less the top-level
// exclude patterns (on references and on locators). A problem in one file
// does not stop the others: the error is an Errors listing every problem
// of the run, and the Result is nil then.
func Run(ctx context.Context, cfg *config.Config) (*Result, error) {
	c := newCollector(cfg)
	projects, err := LoadProjects(ctx, cfg)
	c.errs.add(err)
	c.compose(projects)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.dockerfiles()
	c.kubeSources(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, img := range cfg.Images {
		if _, isBuild := c.builds[img.Ref]; isBuild {
			continue // an image block naming a build output only renames its target
		}
		c.addImage(img.Ref, img.Locator(cfg.Filename))
	}
	c.resolveKube()
	if err := c.errs.err(); err != nil {
		return nil, err
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

// collector accumulates what discovery finds, deduplicated by reference,
// and every problem on the way.
type collector struct {
	cfg    *config.Config
	images map[imageref.Ref]map[string]bool // ref -> locators
	builds map[imageref.Ref]*Build
	// scanned maps the real path of every Dockerfile a compose build
	// scanned to that build: discover.dockerfiles does not scan it again.
	scanned map[string]*Build
	// kubeFound are the images of Kubernetes objects, filed by resolveKube
	// once the rest is known.
	kubeFound []kubeFinding
	warnings  []string
	errs      Errors
}

func newCollector(cfg *config.Config) *collector {
	return &collector{cfg: cfg, images: map[imageref.Ref]map[string]bool{},
		builds: map[imageref.Ref]*Build{}, scanned: map[string]*Build{}}
}

// addImage notes an image to mirror found at locator, unless the
// top-level exclude names the locator.
func (c *collector) addImage(ref imageref.Ref, locator string) {
	if locatorExcluded(locator, c.cfg.Exclude) {
		return
	}
	if c.images[ref] == nil {
		c.images[ref] = map[string]bool{}
	}
	c.images[ref][locator] = true
}

// addBase records that b is built from ref; an upstream image is also
// mirrored, another build of the repository is only a dependency.
func (c *collector) addBase(b *Build, ref imageref.Ref, locator string) {
	b.Bases = append(b.Bases, ref)
	if _, isBuild := c.builds[ref]; !isBuild {
		c.addImage(ref, locator)
	}
}

// parseComposeRef parses an image reference of a compose file, with a hint
// when it looks like a template placeholder.
func parseComposeRef(s string) (imageref.Ref, error) {
	ref, err := imageref.Parse(s)
	if err != nil && strings.Contains(s, "{{") {
		err = fmt.Errorf("%w (%s)", err, composeTemplateHint)
	}
	return ref, err
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

// result returns the sorted, deduplicated findings less the excluded
// references.
func (c *collector) result(exclude []config.Pattern) *Result {
	r := &Result{Warnings: c.warnings}
	for ref, locs := range c.images {
		if !refExcluded(ref, exclude) {
			r.Images = append(r.Images, Image{Ref: ref, Sources: slices.Sorted(maps.Keys(locs))})
		}
	}
	for ref, b := range c.builds {
		if refExcluded(ref, exclude) {
			continue
		}
		b.Sources = slices.Compact(slices.Sorted(slices.Values(b.Sources)))
		slices.SortFunc(b.Bases, imageref.Compare)
		b.Bases = slices.Compact(b.Bases)
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

package discover

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/helmrender"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/kustomize"
	"github.com/imagesync/imagesync/internal/liblog"
	"github.com/imagesync/imagesync/internal/repofs"
)

// Run discovers the images of the repository cfg describes: the compose
// projects' services and builds, the Dockerfiles those builds use, the
// further Dockerfiles of discover.dockerfiles, the objects of the Helm
// releases, kustomizations and manifests of discover.helm,
// discover.kustomize and discover.kubernetes (placeholders among them
// matched to the builds they stand for, skaffold's included), and the
// config's image blocks, less the top-level exclude patterns (on
// references and on locators). A problem in one file does not stop the
// others: the error is an Errors listing every problem of the run, and
// the Result is nil then. Every file is read under the repository's rule
// (internal/repofs). What the libraries it calls print comes back among
// the Result's warnings, never on stderr.
func Run(ctx context.Context, cfg *config.Config, opts ...Option) (*Result, error) {
	repo, err := repofs.Open(cfg.Dir)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	c := newCollector(cfg, repo)
	for _, o := range opts {
		o(&c.opts)
	}
	c.helm = helmrender.NewWorker(c.opts.helm) // one renderer for the run's releases
	defer c.helm.Close()
	capture := liblog.Start()
	projects := c.loadProjects(ctx, capture)
	c.compose(projects)
	if err := ctx.Err(); err != nil {
		capture.Stop()
		return nil, err
	}
	c.kubeSources(ctx, capture)
	c.libraryWarnings(capture.Stop())
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.skaffoldBuilds()
	c.dockerfiles()
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
	r := c.result()
	c.excludeWarnings()
	r.Warnings = c.warnings
	return r, nil
}

// loadProjects loads the compose projects, each with what compose-go
// prints attributed to it.
func (c *collector) loadProjects(ctx context.Context, capture *liblog.Capture) []*ComposeProject {
	var projects []*ComposeProject
	all := ProjectOptions(c.cfg)
	for _, opts := range all {
		source := "compose"
		if opts.Qualifier != "" {
			source = "compose project " + opts.Qualifier
		}
		capture.Do(source, func() {
			p, err := loadProject(ctx, opts)
			c.errs.add(err)
			if p != nil {
				projects = append(projects, p)
			}
		})
	}
	return projects
}

// libraryWarnings adds what the libraries printed during the run, each
// distinct line once, to the warnings, after the source it concerns.
// kustomize's deprecation notices, which it prints straight to stderr
// for every build, are replaced by those Build returns for each
// kustomization file.
func (c *collector) libraryWarnings(printed []liblog.Message) {
	notices := kustomize.DeprecationNotices()
	for _, w := range slices.Sorted(maps.Keys(c.kustomizeNotices)) {
		c.warnings = append(c.warnings, "kustomize "+w)
	}
	for _, m := range printed {
		switch {
		case m.Source == "" && slices.Contains(notices, m.Text):
		case m.Source == "":
			c.warnings = append(c.warnings, m.Text+" (printed during discovery by a library imagesync calls)")
		default:
			c.warnings = append(c.warnings, m.Source+": "+m.Text)
		}
	}
}

// Option changes how Run discovers.
type Option func(*options)

type options struct {
	helm helmrender.Sandbox
}

// WithHelmSandbox renders the Helm releases in a child process as s says,
// each bounded in time and memory; without it they render in this
// process, unbounded (see helmrender.Sandbox).
func WithHelmSandbox(s helmrender.Sandbox) Option {
	return func(o *options) { o.helm = s }
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
	repo   *repofs.Root // every file discovery reads, read under its rule
	opts   options
	helm   *helmrender.Worker
	images map[imageref.Ref]map[string]bool // ref -> locators
	builds map[imageref.Ref]*Build
	// scanned maps the real path of every Dockerfile a compose build
	// scanned to that build: discover.dockerfiles does not scan it again.
	scanned map[string]*Build
	// kubeFound are the images of Kubernetes objects, filed by resolveKube
	// once the rest is known.
	kubeFound []kubeFinding
	// covered are the absolute paths of the directories and files the
	// kustomizations built used: discover.kubernetes skips them.
	covered []string
	// kustomizeNotices are kustomize's deprecation notices, "file: notice".
	kustomizeNotices map[string]bool
	// skaffold are the artifacts of skaffold.yaml, read on first use.
	skaffold *skaffoldConfig
	excludes excludeUse
	warnings []string
	errs     Errors
}

func newCollector(cfg *config.Config, repo *repofs.Root) *collector {
	return &collector{cfg: cfg, repo: repo, images: map[imageref.Ref]map[string]bool{},
		builds: map[imageref.Ref]*Build{}, scanned: map[string]*Build{}, kustomizeNotices: map[string]bool{},
		excludes: excludeUse{top: make([]bool, len(cfg.Exclude)), discover: make([]bool, len(cfg.Discover.Exclude))}}
}

// addImage notes an image to mirror found at locator, unless the
// top-level exclude names the locator.
func (c *collector) addImage(ref imageref.Ref, locator string) {
	if c.excludedLocator(locator) {
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
func (c *collector) result() *Result {
	r := &Result{}
	for ref, locs := range c.images {
		if !c.excludedRef(ref) {
			r.Images = append(r.Images, Image{Ref: ref, Sources: slices.Sorted(maps.Keys(locs))})
		}
	}
	for ref, b := range c.builds {
		if c.excludedRef(ref) {
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

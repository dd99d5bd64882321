package discover

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/imagesync/imagesync/internal/dockerfile"
	"github.com/imagesync/imagesync/internal/excerpt"
	"github.com/imagesync/imagesync/internal/imageref"
)

// dockerImageScheme prefixes an additional build context that is an image.
const dockerImageScheme = "docker-image://"

// serviceScheme prefixes an additional build context that is the image
// another compose service builds.
const serviceScheme = "service:"

// compose collects the services of the compose projects. Build outputs
// of every project are collected first so that a Dockerfile built FROM
// another service's image is recognised as depending on that build rather
// than on an upstream image, in whichever project it is built.
func (c *collector) compose(projects []*ComposeProject) {
	var builds []*Build
	first := map[imageref.Ref]projectService{} // the first service building each image
	for _, p := range projects {
		for i := range p.Services {
			if svc := (projectService{p, &p.Services[i]}); svc.Build != nil {
				builds = c.composeBuildName(svc, first, builds)
			}
		}
	}
	for _, p := range projects {
		for i := range p.Services {
			svc := &p.Services[i]
			if svc.Build != nil || svc.Image == "" {
				continue
			}
			ref, err := parseComposeRef(svc.Image)
			if err != nil {
				c.errs.add(fmt.Errorf("%s: service %s: %w", svc.ImageLocator, svc.Name, err))
				continue
			}
			if b, ok := c.builds[ref]; ok {
				b.Sources = append(b.Sources, svc.ImageLocator) // runs an image another service builds
				continue
			}
			c.addImage(ref, svc.ImageLocator)
		}
	}
	for _, b := range builds {
		c.errs.add(c.composeBuild(b, first[b.Ref]))
	}
}

// projectService is a service with the project it belongs to.
type projectService struct {
	project *ComposeProject
	*ComposeService
}

// id is the name the service's build goes by (ComposeProject.ServiceID).
func (s projectService) id() string { return s.project.ServiceID(s.Name) }

// composeBuildName notes the image svc builds: a new build, appended to
// builds, or one more service of the build of the same image when the
// definitions agree.
func (c *collector) composeBuildName(svc projectService, first map[imageref.Ref]projectService, builds []*Build) []*Build {
	name := svc.Image
	if name == "" {
		name = svc.project.Name + "-" + svc.Name // docker compose's default name for a built image
	}
	ref, err := parseComposeRef(name)
	if err != nil {
		c.errs.add(fmt.Errorf("%s: service %s builds an image with an invalid name: %w", svc.Build.Locator, svc.Name, err))
		return builds
	}
	if b, ok := c.builds[ref]; ok {
		// docker compose builds one image for services that share
		// a build definition; differing ones would race for the tag.
		if err := c.sameBuild(ref, first[ref], svc); err != nil {
			c.errs.add(err)
			return builds
		}
		b.Services = append(b.Services, svc.id())
		b.Sources = append(b.Sources, svc.Build.Locator)
		return builds
	}
	b := &Build{Ref: ref, Services: []string{svc.id()}, Sources: []string{svc.Build.Locator}}
	c.builds[ref], first[ref] = b, svc
	return append(builds, b)
}

// sameBuild returns an error naming both services and the first field in
// which the build definitions of a (the first service building ref) and b
// differ, or nil when they are the same build.
func (c *collector) sameBuild(ref imageref.Ref, a, b projectService) error {
	fields := []struct {
		name string
		a, b string
	}{
		{"build.context", a.Build.Context, b.Build.Context},
		{"build.dockerfile_inline", a.Build.Inline, b.Build.Inline},
		{"build.dockerfile", a.Build.Dockerfile, b.Build.Dockerfile},
		{"build.target", a.Build.Target, b.Build.Target},
		{"build.args", pairs(c.buildArgs(a.Build)), pairs(c.buildArgs(b.Build))},
		{"build.additional_contexts", pairs(a.Build.AdditionalContexts), pairs(b.Build.AdditionalContexts)},
		{"build.platforms", strings.Join(c.platforms(a.Build), ", "), strings.Join(c.platforms(b.Build), ", ")},
	}
	for _, f := range fields {
		if f.a != f.b {
			return fmt.Errorf("%s: services %s and %s both build %s from different build definitions: "+
				"%s is %s for %s and %s for %s; give them distinct image names, or the same build definition",
				b.Build.Locator, a.id(), b.id(), ref, f.name, excerpt.Quote(f.a), a.id(), excerpt.Quote(f.b), b.id())
		}
	}
	return nil
}

// buildArgs are a service's effective build arguments: discover.build_args
// overlaid by its build.args.
func (c *collector) buildArgs(sb *ComposeBuild) map[string]string {
	return mergeArgs(c.cfg.Discover.BuildArgs, sb.Args)
}

// platforms are a service's build.platforms as written, else the builder's
// default ones: what gets built depends on them.
func (c *collector) platforms(sb *ComposeBuild) []string {
	if len(sb.Platforms) > 0 {
		return slices.Clone(sb.Platforms)
	}
	return slices.Clone(c.cfg.Builder.Platforms)
}

// pairs renders a map as sorted k=v pairs, for comparing and messages.
func pairs(m map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return strings.Join(out, ", ")
}

// composeBuild scans the Dockerfile of b, built as svc (the first of its
// services) defines it.
func (c *collector) composeBuild(b *Build, svc projectService) error {
	sb := svc.Build
	b.Context = sb.Context
	b.TargetStage = sb.Target
	b.Platforms = c.platforms(sb)
	firstPlatform := "" // the platform ARGs follow the first entry as written, not as sorted
	if len(b.Platforms) > 0 {
		firstPlatform = b.Platforms[0]
	}
	sort.Strings(b.Platforms)
	b.Args = c.buildArgs(sb)

	opts := dockerfile.Options{Path: sb.Dockerfile, BuildArgs: b.Args, Target: sb.Target, Platform: firstPlatform,
		NamedContexts: map[string]imageref.Ref{}, LocalContexts: map[string]bool{}}
	if err := c.additionalContexts(b, svc, &opts); err != nil {
		return err
	}
	var data []byte
	if sb.Inline != "" {
		b.Dockerfile = sb.Locator + ".dockerfile_inline"
		b.Inline = []byte(sb.Inline)
		data = b.Inline
		opts.Path = b.Dockerfile
	} else {
		b.Dockerfile = sb.Dockerfile
		real, err := c.repo.Resolve(sb.Dockerfile)
		if err == nil {
			data, err = c.repo.ReadFile(sb.Dockerfile)
		}
		if err != nil {
			return fmt.Errorf("%s: %s: read Dockerfile: %w", sb.Locator, serviceLabel(b.Services), err)
		}
		c.scanned[real] = b
	}
	found, err := scanDockerfile(data, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", serviceLabel(b.Services), err)
	}
	b.Scan = found
	for _, f := range found {
		c.addBase(b, f.Ref, f.Locator)
	}
	return nil
}

// additionalContexts sorts a build's additional contexts into the images
// it is built from, the other services' builds it depends on and the local
// directories whose files go into it.
func (c *collector) additionalContexts(b *Build, svc projectService, opts *dockerfile.Options) error {
	sb := svc.Build
	for _, key := range slices.Sorted(maps.Keys(sb.AdditionalContexts)) {
		val := sb.AdditionalContexts[key]
		if dep, isService := strings.CutPrefix(val, serviceScheme); isService {
			// Another service's build: a dependency, never an image to mirror.
			opts.LocalContexts[key] = true
			if depBuild := c.serviceBuild(svc.project.ServiceID(dep)); depBuild != nil {
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
		ctxRef, err := parseComposeRef(imgName)
		if err != nil {
			return fmt.Errorf("%s.additional_contexts.%s: %s: %w", sb.Locator, key, serviceLabel(b.Services), err)
		}
		opts.NamedContexts[key] = ctxRef
		c.addBase(b, ctxRef, sb.Locator+".additional_contexts."+key)
	}
	return nil
}

// serviceBuild returns the build of the compose service whose ID
// (ComposeProject.ServiceID) is id, or nil.
func (c *collector) serviceBuild(id string) *Build {
	for _, b := range c.builds {
		if slices.Contains(b.Services, id) {
			return b
		}
	}
	return nil
}

// serviceLabel names the services of a build in messages: "service web",
// "services salt-master-1, salt-master-2".
func serviceLabel(services []string) string {
	if len(services) == 1 {
		return "service " + services[0]
	}
	return "services " + strings.Join(services, ", ")
}

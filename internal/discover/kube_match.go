package discover

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/kube"
)

// resolveKube files what the Kubernetes objects reference, once every
// other image of the run is known:
//   - an image the repository builds (a build output of the same
//     canonical name) is that build;
//   - a placeholder, a name with neither registry, tag nor digest
//     (kube.Bare), is the build it names (by a compose service or the
//     build's own name, or a skaffold artifact), or the image of that name
//     found elsewhere (a compose file's `image: org/app` is the same
//     ":latest"); one that is neither is left out with a warning, never
//     Docker Hub's ":latest" on its own;
//   - a reference into target.registry (production values often point
//     global.imageRegistry at the mirror itself) is the target of an image
//     the lock mirrors or builds: the locator joins that entry, and the
//     mirror is never mirrored into itself. One that is no entry's target
//     is an error;
//   - anything else is an image to mirror.
func (c *collector) resolveKube() {
	var intoTarget, placeholders []kubeFinding
	for _, f := range c.kubeFound {
		if b, ok := c.builds[f.ref]; ok {
			b.Sources = append(b.Sources, f.locator)
			continue
		}
		if kube.Bare(f.value) {
			placeholders = append(placeholders, f) // once every other image is known
			continue
		}
		if c.inTargetRegistry(f.ref) {
			intoTarget = append(intoTarget, f)
			continue
		}
		c.addImage(f.ref, f.locator)
	}
	c.intoTarget(intoTarget)
	for _, f := range placeholders {
		c.placeholder(f)
	}
}

// intoTarget files the references into target.registry: each joins the
// image or build whose target it is.
func (c *collector) intoTarget(found []kubeFinding) {
	if len(found) == 0 {
		return
	}
	byTarget := c.byTarget()
	for _, f := range found {
		if join, ok := byTarget[f.ref]; ok {
			join(f.locator)
			continue
		}
		c.errs.add(fmt.Errorf("%s: %s is in target.registry %s, but no image this repository mirrors or builds has it as its target: "+
			"render the objects with the upstream registry (a chart's global.imageRegistry set to \"\" in its helm block's set, say) "+
			"so that imagesync sees the image to mirror, or give the upstream image this target with an image block",
			f.locator, f.ref, c.cfg.Target.Registry))
	}
}

// placeholder files a bare name found in a Kubernetes object: the build
// it names, else a warning.
func (c *collector) placeholder(f kubeFinding) {
	if b := c.buildNamed(f.value); b != nil {
		b.Sources = append(b.Sources, f.locator)
		return
	}
	if _, ok := c.images[f.ref]; ok {
		c.addImage(f.ref, f.locator)
		return
	}
	c.warnings = append(c.warnings, fmt.Sprintf("%s: %q names no registry, tag or digest, no image this repository builds "+
		"(a compose build, or an artifact of skaffold.yaml) and no image found elsewhere: left out, as such a name is most often "+
		"a placeholder a deploy tool replaces; "+
		"if it is Docker Hub's %s, write that reference, else silence this by adding %s to the top-level exclude",
		f.locator, f.value, f.ref, excludePattern(f.locator)))
}

// buildNamed returns the build a bare name stands for: the build of a
// compose service of that name (the first, by reference, when services of
// several projects have it), else the build whose repository the name
// is ("adservice" for docker.io/library/adservice:v1), else nil.
func (c *collector) buildNamed(name string) *Build {
	refs := slices.SortedFunc(maps.Keys(c.builds), imageref.Compare)
	for _, ref := range refs {
		for _, id := range c.builds[ref].Services {
			if id == name || strings.HasSuffix(id, "/"+name) {
				return c.builds[ref]
			}
		}
	}
	repo, err := imageref.ParseName(name)
	if err != nil {
		return nil
	}
	for _, ref := range refs {
		if ref.Repository() == repo.Repository() {
			return c.builds[ref]
		}
	}
	return nil
}

// inTargetRegistry reports whether ref is under target.registry.
func (c *collector) inTargetRegistry(ref imageref.Ref) bool {
	return strings.HasPrefix(ref.Repository()+"/", c.cfg.Target.Registry+"/")
}

// byTarget maps the target of every image and build found so far (less
// the excluded ones, which are not mirrored) to a function that adds a
// locator to it.
func (c *collector) byTarget() map[imageref.Ref]func(locator string) {
	out := map[imageref.Ref]func(string){}
	for ref := range c.images {
		if target, err := c.cfg.TargetFor(ref); err == nil && !c.excludedRef(ref) {
			out[target] = func(loc string) { c.addImage(ref, loc) }
		}
	}
	for ref, b := range c.builds {
		if target, err := c.cfg.TargetFor(ref); err == nil && !c.excludedRef(ref) {
			out[target] = func(loc string) { b.Sources = append(b.Sources, loc) }
		}
	}
	return out
}

// excludePattern is the top-level exclude entry, as HCL, that matches
// exactly locator: glob characters escaped.
func excludePattern(locator string) string {
	var b strings.Builder
	for _, r := range locator {
		if strings.ContainsRune(`*?[]{}\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return strconv.Quote(b.String())
}

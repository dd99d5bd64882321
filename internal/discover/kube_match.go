package discover

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
)

// resolveKube files what the Kubernetes objects reference, once every
// other image of the run is known:
//   - an image the repository builds (a compose build output of the same
//     canonical name) is that build;
//   - a reference into target.registry (production values often point
//     global.imageRegistry at the mirror itself) is the target of an image
//     the lock mirrors or builds: the locator joins that entry, and the
//     mirror is never mirrored into itself. One that is no entry's target
//     is an error;
//   - anything else is an image to mirror.
func (c *collector) resolveKube() {
	var intoTarget []kubeFinding
	for _, f := range c.kubeFound {
		if b, ok := c.builds[f.ref]; ok {
			b.Sources = append(b.Sources, f.locator)
			continue
		}
		if c.inTargetRegistry(f.ref) {
			intoTarget = append(intoTarget, f)
			continue
		}
		c.addImage(f.ref, f.locator)
	}
	if len(intoTarget) == 0 {
		return
	}
	byTarget := c.byTarget()
	for _, f := range intoTarget {
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
		if target, err := c.cfg.TargetFor(ref); err == nil && !refExcluded(ref, c.cfg.Exclude) {
			out[target] = func(loc string) { c.addImage(ref, loc) }
		}
	}
	for ref, b := range c.builds {
		if target, err := c.cfg.TargetFor(ref); err == nil && !refExcluded(ref, c.cfg.Exclude) {
			out[target] = func(loc string) { b.Sources = append(b.Sources, loc) }
		}
	}
	return out
}

// locatorExcluded reports whether a locator matches a pattern of the
// top-level exclude.
func locatorExcluded(locator string, exclude []config.Pattern) bool {
	for _, p := range exclude {
		if ok, _ := doublestar.Match(p.Glob, locator); ok {
			return true
		}
	}
	return false
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

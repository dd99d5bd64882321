package discover

import (
	"fmt"
	"path"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/imagesync/imagesync/internal/imageref"
)

// excludeUse records which exclude entries matched something in a run: an
// entry that matches nothing is a typo, a file moved, or an image no
// longer used, and is said.
type excludeUse struct {
	top      []bool // the top-level exclude: references and locators
	discover []bool // discover.exclude: paths
}

// excludedLocator reports whether a locator matches an entry of the
// top-level exclude.
func (c *collector) excludedLocator(locator string) bool {
	return c.matchTop(locator)
}

// excludedRef reports whether a canonical reference matches an entry of
// the top-level exclude.
func (c *collector) excludedRef(ref imageref.Ref) bool {
	return c.matchTop(ref.String())
}

func (c *collector) matchTop(s string) bool {
	hit := false
	for i, p := range c.cfg.Exclude {
		if ok, _ := doublestar.Match(p.Glob, s); ok {
			c.excludes.top[i], hit = true, true
		}
	}
	return hit
}

// excludedPath reports whether a path, or a directory above it, matches an
// entry of discover.exclude.
func (c *collector) excludedPath(rel string) bool {
	hit := false
	for i, p := range c.cfg.Discover.Exclude {
		for dir := rel; dir != "." && dir != "/"; dir = path.Dir(dir) {
			if ok, _ := doublestar.Match(p.Glob, dir); ok {
				c.excludes.discover[i], hit = true, true
				break
			}
		}
	}
	return hit
}

// excludeWarnings names every exclude entry that matched nothing.
func (c *collector) excludeWarnings() {
	for i, p := range c.cfg.Exclude {
		if !c.excludes.top[i] {
			c.warnings = append(c.warnings, fmt.Sprintf("%s: exclude entry %q matches no image and no place an image was found at: "+
				"remove it, or correct it (a reference as in images.lock, or a locator)", rangeString(p.Range), p.Glob))
		}
	}
	for i, p := range c.cfg.Discover.Exclude {
		if !c.excludes.discover[i] {
			c.warnings = append(c.warnings, fmt.Sprintf("%s: discover.exclude entry %q matches no file discover.dockerfiles or discover.kubernetes reach: "+
				"remove it, or correct it", rangeString(p.Range), p.Glob))
		}
	}
}

package discover

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/hcl/v2"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/dockerfile"
	"github.com/imagesync/imagesync/internal/repofs"
)

// dockerfiles scans the Dockerfiles matched by discover.dockerfiles that no
// compose build already scanned (with the service's own arguments). Such a
// Dockerfile may be built with any --target, so all its stages count,
// unless discover.dockerfile_targets names the one it is built for.
func (c *collector) dockerfiles() {
	ds := c.cfg.Discover
	files, err := c.globFiles(ds.Dockerfiles)
	if err != nil {
		c.errs.add(err)
		return
	}
	globbed := map[string]bool{} // the files scanned here
	for _, rel := range files {
		if strings.HasSuffix(rel, ".dockerignore") {
			continue
		}
		real, err := c.repo.Resolve(rel)
		if err != nil {
			c.errs.add(err)
			continue
		}
		if c.scanned[real] != nil {
			continue
		}
		data, err := c.repo.ReadFile(rel)
		if err != nil {
			c.errs.add(fmt.Errorf("read %s: %w", rel, err))
			continue
		}
		globbed[rel] = true
		target, hasTarget := ds.DockerfileTargets[rel]
		found, err := scanDockerfile(data, dockerfile.Options{Path: rel, BuildArgs: ds.BuildArgs, Target: target.Stage, AllStages: true})
		if err != nil && hasTarget {
			err = fmt.Errorf("%w (target from discover.dockerfile_targets at %s)", err, rangeString(target.Range))
		}
		c.errs.add(err)
		for _, f := range found {
			if b, ok := c.builds[f.Ref]; ok {
				b.Sources = append(b.Sources, f.Locator)
				continue
			}
			c.addImage(f.Ref, f.Locator)
		}
	}
	c.checkDockerfileTargets(globbed)
}

// checkDockerfileTargets refuses an entry of discover.dockerfile_targets
// that narrows no Dockerfile: a typo or a file moved away would otherwise
// silently count every stage again. globbed holds the files
// discover.dockerfiles scanned.
func (c *collector) checkDockerfileTargets(globbed map[string]bool) {
	targets := c.cfg.Discover.DockerfileTargets
	for _, rel := range slices.Sorted(maps.Keys(targets)) {
		if globbed[rel] {
			continue
		}
		why := "no Dockerfile matched by discover.dockerfiles (less discover.exclude) is at that path"
		if real, err := c.repo.Resolve(rel); err == nil {
			if b := c.scanned[real]; b != nil {
				why = fmt.Sprintf("compose builds it for %s, whose build.target decides the stages", serviceLabel(b.Services))
			}
		}
		c.errs.add(fmt.Errorf("%s: discover.dockerfile_targets[%q]: %s", rangeString(targets[rel].Range), rel, why))
	}
}

// rangeString is the place of a config entry as file:line,column.
func rangeString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

// globFiles expands doublestar patterns relative to the repository into
// sorted, slash-separated regular files, less discover.exclude. It lists
// through the repository's root (os.Root), which follows no link out of
// it; the directory a pattern names literally ("k8s" of "k8s/*.yaml")
// must be inside it, else the pattern is an error.
func (c *collector) globFiles(patterns []config.Pattern) ([]string, error) {
	repo := c.repo
	seen := map[string]bool{}
	fsys, _, err := repo.Sub(".")
	if err != nil {
		return nil, err
	}
	for _, p := range patterns {
		if base, _ := doublestar.SplitPattern(p.Glob); base != "." {
			if _, err := repo.Stat(base); errors.Is(err, repofs.ErrOutside) {
				return nil, fmt.Errorf("glob %q: %w", p.Glob, err)
			}
		}
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
			if !c.excludedPath(m) {
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

// realPath is abs with its symbolic links resolved under the
// repository's rule, so that one file reached by two paths is recognised
// as the same.
func (c *collector) realPath(abs string) string {
	if real, err := c.repo.Resolve(abs); err == nil {
		return real
	}
	return abs
}

package discover

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/imagesync/imagesync/internal/kube"
	"github.com/imagesync/imagesync/internal/kustomize"
	"github.com/imagesync/imagesync/internal/repofs"
)

// skipped counts the files of discover.kubernetes that are not
// manifests, by why, for the one line that says so.
type skipped struct {
	covered    []string            // in a chart or kustomization discovery renders
	notObjects []string            // without apiVersion and kind: CI workflows, compose files, values
	charts     map[string][]string // chart directory no helm block renders -> its files
}

// manifests reads the plain manifest files of discover.kubernetes and
// notes the images of their objects. What the globs match that is not a
// manifest is skipped, not an error, and counted in one warning: files
// of a chart or kustomization that discovery renders already, files whose
// documents have no apiVersion and kind (CI workflows, compose files,
// values files), kustomization files, and the templates of a chart no
// helm block renders (with a warning per chart, as its images are not
// found).
func (c *collector) manifests() {
	ds := c.cfg.Discover
	files, err := c.globFiles(ds.Kubernetes)
	if err != nil {
		c.errs.add(err)
		return
	}
	sk := skipped{charts: map[string][]string{}}
	charts := c.helmChartDirs()
	for _, rel := range files {
		abs, err := c.repo.Resolve(rel)
		switch {
		case err != nil:
			c.errs.add(err)
		case kustomize.IsKustomizationFile(path.Base(rel)), c.isCovered(abs, charts):
			sk.covered = append(sk.covered, rel)
		default:
			c.errs.add(c.manifestFile(rel, abs, &sk))
		}
	}
	c.skippedWarnings(sk)
}

// manifestFile reads one file of discover.kubernetes and notes the images
// of its objects, or counts it in sk when it holds none.
func (c *collector) manifestFile(rel, abs string, sk *skipped) error {
	data, err := c.repo.ReadFile(abs)
	if err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	objs, err := kube.Decode(data)
	if err != nil && len(objs) == 0 {
		if chart := chartOf(c.repo, c.cfg.Dir, abs); chart != "" {
			sk.charts[chart] = append(sk.charts[chart], rel)
			return nil
		}
		if notObjects(err) || !looksLikeManifest.Match(data) {
			sk.notObjects = append(sk.notObjects, rel)
			return nil
		}
	}
	if err != nil {
		err = fmt.Errorf("%s: %w", rel, err)
		if strings.Contains(string(data), "{{") {
			err = fmt.Errorf("%w (it looks like a template, such as a Helm chart's: render it with a discover.helm block, "+
				"or leave it out with discover.exclude)", err)
		}
	}
	located := make([]locatedObject, len(objs))
	for i, o := range objs {
		located[i] = locatedObject{Object: o}
	}
	c.kubeObjects(rel, "default", located)
	return err
}

// looksLikeManifest matches YAML that declares an apiVersion and a kind.
var looksLikeManifest = regexp.MustCompile(`(?m)^\s*apiVersion\s*:[\s\S]*^\s*kind\s*:|^\s*kind\s*:[\s\S]*^\s*apiVersion\s*:`)

// notObjects reports whether every problem of err is a document that is
// no Kubernetes object, rather than YAML that cannot be read.
func notObjects(err error) bool {
	for _, e := range flatten(err) {
		if !errors.Is(e, kube.ErrNotObject) {
			return false
		}
	}
	return true
}

// helmChartDirs are the absolute chart directories the helm blocks render.
func (c *collector) helmChartDirs() []string {
	var out []string
	for _, h := range c.cfg.Discover.Helm {
		if abs, err := c.repo.Resolve(h.Chart); err == nil {
			out = append(out, abs)
		}
	}
	return out
}

// isCovered reports whether a file is part of what discovery renders: in
// one of the chart directories, or used by a kustomization built (in the
// directory of one, or named by one).
func (c *collector) isCovered(abs string, charts []string) bool {
	for _, dir := range slices.Concat(charts, c.covered) {
		if abs == dir || strings.HasPrefix(abs, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// chartOf returns the directory, relative to root, of the Helm chart (the
// nearest directory holding Chart.yaml) that holds the file abs, or "".
func chartOf(repo *repofs.Root, root, abs string) string {
	for dir := filepath.Dir(abs); dir != root && strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
		if fi, err := repo.Stat(filepath.Join(dir, "Chart.yaml")); err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(root, dir)
			return filepath.ToSlash(rel)
		}
	}
	return ""
}

// skippedWarnings says, in one line, what discover.kubernetes matched that
// is not a manifest, and names each chart no helm block renders.
func (c *collector) skippedWarnings(sk skipped) {
	for _, chart := range slicesSortedKeys(sk.charts) {
		files := sk.charts[chart]
		c.warnings = append(c.warnings, fmt.Sprintf("discover.kubernetes matches %s of %s, a Helm chart no discover.helm block renders: "+
			"skipped, so its images are not found; add a helm block for it (and leave it out of discover.kubernetes)", plural(len(files), "file"), chart))
	}
	n := len(sk.covered) + len(sk.notObjects)
	if n == 0 {
		return
	}
	var why []string
	if len(sk.covered) > 0 {
		why = append(why, fmt.Sprintf("%d in charts and kustomizations discovery renders, or kustomization files", len(sk.covered)))
	}
	if len(sk.notObjects) > 0 {
		why = append(why, fmt.Sprintf("%d without apiVersion and kind (%s)", len(sk.notObjects), examples(sk.notObjects, 3)))
	}
	c.warnings = append(c.warnings, fmt.Sprintf("discover.kubernetes: skipped %s that are not Kubernetes manifests: %s",
		plural(n, "file"), strings.Join(why, "; ")))
}

// examples lists the first n of names, and how many more there are.
func examples(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(", and %d more", len(names)-n)
}

// plural is "1 file", "2 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func slicesSortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

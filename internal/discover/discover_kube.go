package discover

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/helmrender"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/kube"
	"github.com/imagesync/imagesync/internal/kustomize"
)

// kubeFinding is an image reference found in a Kubernetes object. It is
// kept apart until every other image of the run is known: a reference into
// target.registry is then matched back to the image whose target it is.
type kubeFinding struct {
	ref     imageref.Ref
	locator string
}

// kubeSources renders the Helm releases and kustomizations and reads the
// plain manifests of discover, in that order, and notes the images of
// their objects.
func (c *collector) kubeSources(ctx context.Context) {
	ds := c.cfg.Discover
	for _, h := range ds.Helm {
		if ctx.Err() != nil {
			return
		}
		c.errs.add(c.helmRelease(ctx, h))
	}
	for _, dir := range ds.Kustomize {
		c.errs.add(c.kustomization(dir))
	}
	files, err := globFiles(c.repo, ds.Kubernetes, ds.Exclude)
	if err != nil {
		c.errs.add(err)
		return
	}
	for _, rel := range files {
		if kustomize.IsKustomizationFile(path.Base(rel)) {
			continue // a kustomization is not a manifest; discover.kustomize builds it
		}
		c.errs.add(c.manifestFile(rel))
	}
}

// helmRelease renders one helm block and notes the images of its
// manifests and hooks.
func (c *collector) helmRelease(ctx context.Context, h *config.HelmRelease) error {
	where := fmt.Sprintf("%s: helm %q", rangeString(h.Range), h.Name)
	r := helmrender.Release{Name: h.Name, Root: c.cfg.Dir, Chart: filepath.Join(c.cfg.Dir, filepath.FromSlash(h.Chart)),
		Namespace: h.Namespace, KubeVersion: h.KubeVersion, APIVersions: h.APIVersions}
	if _, err := c.repo.Stat(h.Chart); err != nil {
		return fmt.Errorf("%s: chart: %w", where, err)
	}
	for _, v := range h.Values {
		if _, err := c.repo.Stat(v); err != nil {
			return fmt.Errorf("%s: values: %w", where, err)
		}
		r.ValuesFiles = append(r.ValuesFiles, filepath.Join(c.cfg.Dir, filepath.FromSlash(v)))
	}
	for _, s := range h.Set {
		r.Set = append(r.Set, helmrender.Value{Key: s.Key, Value: s.Value})
	}
	rendered, err := c.helm.Render(ctx, r)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	objs, err := kube.Decode([]byte(rendered.Manifest))
	if err != nil {
		return fmt.Errorf("%s: rendered manifests: %w", where, err)
	}
	suffixes := make([]string, len(objs))
	for _, hook := range rendered.Hooks {
		hookObjs, err := kube.Decode([]byte(hook.Manifest))
		if err != nil {
			return fmt.Errorf("%s: hook %s: %w", where, hook.Path, err)
		}
		for range hookObjs {
			suffixes = append(suffixes, " (hook "+strings.Join(hook.Events, ",")+")")
		}
		objs = append(objs, hookObjs...)
	}
	namespace := h.Namespace
	if namespace == "" {
		namespace = helmrender.DefaultNamespace
	}
	c.kubeObjects(h.Locator(), namespace, objs, suffixes)
	return nil
}

// kustomization builds one directory of discover.kustomize and notes the
// images of its objects.
func (c *collector) kustomization(dir string) error {
	dir = path.Clean(dir)
	where := fmt.Sprintf("%s: kustomize %q", rangeString(c.cfg.Discover.KustomizeRange), dir)
	out, err := kustomize.Build(c.repo, dir)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	objs, err := kube.Decode(out)
	if err != nil {
		return fmt.Errorf("%s: built objects: %w", where, err)
	}
	c.kubeObjects("kustomize:"+dir, "default", objs, make([]string, len(objs)))
	return nil
}

// manifestFile reads one plain manifest file of discover.kubernetes and
// notes the images of its objects.
func (c *collector) manifestFile(rel string) error {
	data, err := c.repo.ReadFile(rel)
	if err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	objs, err := kube.Decode(data)
	if err != nil {
		err = fmt.Errorf("%s: %w", rel, err)
		if strings.Contains(string(data), "{{") {
			err = fmt.Errorf("%w (it looks like a template, such as a Helm chart's: render it with a discover.helm block, "+
				"or leave it out with discover.exclude)", err)
		}
	}
	c.kubeObjects(rel, "default", objs, make([]string, len(objs)))
	return err
}

// kubeObjects notes the images of objs, found at prefix (a release, a
// kustomization or a file) whose objects without a namespace are in
// namespace; suffixes[i] ends the locators of objs[i] (a hook's events).
// An invalid reference in a pod template is an error; in a custom
// resource it is a warning, since its "image" may mean something else.
// A locator matched by the top-level exclude is left out, silently.
func (c *collector) kubeObjects(prefix, namespace string, objs []kube.Object, suffixes []string) {
	names := kube.Names(objs, namespace)
	for i, o := range objs {
		for _, f := range kube.Images(o.Content) {
			loc := prefix + "#" + names[i] + "." + f.Locator() + suffixes[i]
			if locatorExcluded(loc, c.cfg.Exclude) {
				continue
			}
			ref, err := imageref.Parse(f.Value)
			switch {
			case err != nil && f.Pod:
				c.errs.add(fmt.Errorf("%s: %w", loc, err))
			case err != nil:
				c.warnings = append(c.warnings, fmt.Sprintf("%s: %v; left out, as the field may not name an image "+
					"(to say so and silence this, add %s to the top-level exclude)", loc, err, excludePattern(loc)))
			default:
				c.kubeFound = append(c.kubeFound, kubeFinding{ref: ref, locator: loc})
			}
		}
	}
}

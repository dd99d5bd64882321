package discover

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/helmrender"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/kube"
	"github.com/imagesync/imagesync/internal/kustomize"
	"github.com/imagesync/imagesync/internal/liblog"
)

// maxRenders bounds the Helm releases and kustomizations rendered at once:
// one per processor the process may use (GOMAXPROCS), at most this many,
// since each holds its chart or kustomization tree and its output in
// memory while it renders.
const maxRenders = 8

// renderLimit is the number of renders run at once.
func renderLimit() int { return min(runtime.GOMAXPROCS(0), maxRenders) }

// kubeFinding is an image reference found in a Kubernetes object or a
// chart's annotation. It is kept apart until every other image of the run
// is known: a reference into target.registry is then matched back to the
// image whose target it is, and a placeholder to the build it stands for.
type kubeFinding struct {
	ref     imageref.Ref
	value   string // as written
	locator string
}

// rendered is the outcome of one Helm release or kustomization.
type rendered struct {
	helm *helmrender.Rendered
	kust *kustomize.Built
	err  error
}

// kubeSources renders the Helm releases and builds the kustomizations,
// several at once (renderLimit), then reads the manifests of
// discover.kubernetes, and notes the images of their objects in the
// order images.hcl lists them, whichever render finishes first.
func (c *collector) kubeSources(ctx context.Context, capture *liblog.Capture) {
	ds := c.cfg.Discover
	out := make([]rendered, len(ds.Helm)+len(ds.Kustomize))
	g := new(errgroup.Group)
	g.SetLimit(renderLimit())
	// The Helm releases render one after the other in one goroutine: the
	// run's helmrender.Worker (one sandboxed child) serves one render at
	// a time. The kustomizations build beside them, several at once.
	if len(ds.Helm) > 0 {
		g.Go(func() error {
			for i, h := range ds.Helm {
				capture.Do("helm "+h.Name, func() { out[i].helm, out[i].err = c.renderHelm(ctx, h) })
			}
			return nil
		})
	}
	for j, dir := range ds.Kustomize {
		i := len(ds.Helm) + j
		g.Go(func() error {
			capture.Do("kustomize "+path.Clean(dir), func() { out[i].kust, out[i].err = c.buildKustomization(ctx, dir) })
			return nil
		})
	}
	_ = g.Wait() // each render's error is its own
	for i, h := range ds.Helm {
		c.errs.add(c.helmRelease(h, out[i]))
	}
	for j, dir := range ds.Kustomize {
		c.errs.add(c.kustomization(dir, out[len(ds.Helm)+j]))
	}
	if ctx.Err() == nil {
		c.manifests()
	}
}

// renderHelm renders one helm block through the run's one Helm Worker
// (the sandboxed child), which the caller uses from one goroutine only.
func (c *collector) renderHelm(ctx context.Context, h *config.HelmRelease) (*helmrender.Rendered, error) {
	r := helmrender.Release{Name: h.Name, Root: c.cfg.Dir, Chart: filepath.Join(c.cfg.Dir, filepath.FromSlash(h.Chart)),
		Namespace: h.Namespace, KubeVersion: h.KubeVersion, APIVersions: h.APIVersions}
	if _, err := c.repo.Stat(h.Chart); err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	for _, v := range h.Values {
		if _, err := c.repo.Stat(v); err != nil {
			return nil, fmt.Errorf("values: %w", err)
		}
		r.ValuesFiles = append(r.ValuesFiles, filepath.Join(c.cfg.Dir, filepath.FromSlash(v)))
	}
	for _, s := range h.Set {
		r.Set = append(r.Set, helmrender.Value{Key: s.Key, Value: s.Value})
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.helm.Render(ctx, r)
}

// helmRelease notes the images of the manifests and hooks one helm block
// rendered to, and those its charts declare.
func (c *collector) helmRelease(h *config.HelmRelease, r rendered) error {
	where := fmt.Sprintf("%s: helm %q", rangeString(h.Range), h.Name)
	if r.err != nil {
		return fmt.Errorf("%s: %w", where, r.err)
	}
	namespace := h.Namespace
	if namespace == "" {
		namespace = helmrender.DefaultNamespace
	}
	objs, err := c.helmObjects(h.Locator(), r.helm.Documents)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	c.kubeObjects(h.Locator(), namespace, objs)
	for _, w := range r.helm.Warnings {
		c.warnings = append(c.warnings, fmt.Sprintf("%s: %s", h.Locator(), w))
	}
	for _, d := range r.helm.Declared {
		entry := d.Name
		if entry == "" {
			entry = fmt.Sprint(d.Index)
		}
		c.kubeField(h.Locator()+"#Chart/"+d.Chart+"."+d.Annotation+"["+entry+"]", d.Image, false)
	}
	return nil
}

// buildKustomization builds one directory of discover.kustomize.
func (c *collector) buildKustomization(ctx context.Context, dir string) (*kustomize.Built, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return kustomize.Build(c.repo, path.Clean(dir))
}

// kustomization notes the images of the objects one directory of
// discover.kustomize built to, and kustomize's notices about it.
func (c *collector) kustomization(dir string, r rendered) error {
	dir = path.Clean(dir)
	where := fmt.Sprintf("%s: kustomize %q", rangeString(c.cfg.Discover.KustomizeRange), dir)
	if r.err != nil {
		return fmt.Errorf("%s: %w", where, r.err)
	}
	c.covered = append(c.covered, r.kust.Used...)
	for _, w := range r.kust.Warnings {
		c.kustomizeNotices[w] = true
	}
	var located []locatedObject
	for i, content := range r.kust.Objects {
		objs, err := kube.FromContent(content)
		if err != nil {
			return fmt.Errorf("%s: built object %d: %w", where, i+1, err)
		}
		for _, o := range objs {
			located = append(located, locatedObject{Object: o})
		}
	}
	c.kubeObjects("kustomize:"+dir, "default", located)
	return nil
}

// locatedObject is an object with what its locators need beyond its
// kind and name.
type locatedObject struct {
	kube.Object
	// key, when set, stands for Kind/name in locators: the template and
	// document of a rendered object whose name changes between renders.
	key string
	// suffix ends its locators: a hook's events.
	suffix string
}

// kubeObjects notes the images of objs, found at prefix (a release, a
// kustomization or a file) whose objects without a namespace are in
// namespace. An invalid reference in a pod template is an error; in a
// custom resource it is a warning, since its "image" may mean something
// else. A locator matched by the top-level exclude is left out, silently.
func (c *collector) kubeObjects(prefix, namespace string, objs []locatedObject) {
	plain := make([]kube.Object, len(objs))
	for i, o := range objs {
		plain[i] = o.Object
	}
	names := kube.Names(plain, namespace)
	for i, o := range objs {
		name := names[i]
		if o.key != "" {
			name = o.key
		}
		for _, f := range kube.Images(o.Content) {
			c.kubeField(prefix+"#"+name+"."+f.Locator()+o.suffix, f.Value, f.Pod)
		}
	}
}

// kubeField notes one image field of an object (pod says whether a
// kubelet pulls it) or of a chart's annotation.
func (c *collector) kubeField(loc, value string, pod bool) {
	if c.excludedLocator(loc) {
		return
	}
	ref, err := imageref.Parse(value)
	switch {
	case err != nil && pod:
		c.errs.add(fmt.Errorf("%s: %w", loc, err))
	case err != nil:
		c.warnings = append(c.warnings, fmt.Sprintf("%s: %v; left out, as the field may not name an image "+
			"(to say so and silence this, add %s to the top-level exclude)", loc, err, excludePattern(loc)))
	default:
		c.kubeFound = append(c.kubeFound, kubeFinding{ref: ref, value: value, locator: loc})
	}
}

// Package helmrender renders a Helm chart the way `helm install --dry-run`
// does without a cluster (`helm template`): Helm's own Go SDK, the chart's
// vendored dependencies, values merged like `helm -f a -f b --set-json`,
// and fixed capabilities, so that the same chart and values give the same
// manifests on every machine. It reads no kubeconfig, no HELM_* variable
// and no repository index, and reaches no network.
//
// It drives the SDK's rendering packages (chartutil, engine, releaseutil)
// rather than action.Install: the action package links Helm's Kubernetes
// client, its OCI registry client and their schemes, which made every
// imagesync command start with 78 MiB resident (58 without it).
// reference_test.go holds Render equal to a client-only dry-run
// action.Install, and the values merge equal to Helm's values.Options.
package helmrender

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/imagesync/imagesync/internal/excerpt"
	"github.com/imagesync/imagesync/internal/repofs"
)

// DefaultKubeVersion is the Kubernetes version charts see as
// .Capabilities.KubeVersion when a release names none. It is fixed here,
// not asked of a cluster nor taken from Helm's build, so that a lock does
// not depend on the machine or the Helm release that wrote it; changing it
// may change what charts render, and so the lock.
const DefaultKubeVersion = "v1.33.0"

// DefaultNamespace is the namespace of a release that names none, as helm
// uses without a kubeconfig.
const DefaultNamespace = "default"

// Release is one chart to render, as one `helm install` would.
type Release struct {
	// Name is the release name (.Release.Name).
	Name string
	// Root is the repository the chart and the values files are read
	// from, under its rule (internal/repofs): every file of the chart, the
	// ones templates read with .Files.Get included, must resolve inside
	// it. "" means the directory that holds Chart.
	Root string
	// Chart is the path (absolute, or relative to the working directory)
	// of a chart directory or .tgz archive beneath Root.
	Chart string
	// ValuesFiles are paths of values files beneath Root, merged in order
	// over the chart's values.yaml like `helm -f a -f b`.
	ValuesFiles []string
	// Set are values applied in order after the files, like `--set-json`:
	// the key is Helm's path syntax ("backend.image.tag",
	// "list[0]", "a\.b"), the value keeps its type (a string stays a
	// string) and is never split at commas.
	Set []Value
	// Namespace is .Release.Namespace; "" means DefaultNamespace.
	Namespace string
	// KubeVersion is .Capabilities.KubeVersion ("1.31.0" or "v1.31.0");
	// "" means DefaultKubeVersion.
	KubeVersion string
	// APIVersions are added to Helm's default .Capabilities.APIVersions
	// ("monitoring.coreos.com/v1", "monitoring.coreos.com/v1/Prometheus").
	APIVersions []string
}

// Value is one entry of Release.Set.
type Value struct {
	Key   string
	Value any // string, bool, a number, or lists and maps of them
}

// Rendered is what a release renders to.
type Rendered struct {
	// Manifest holds every rendered manifest that is not a hook, the
	// subcharts' included, as one YAML stream.
	Manifest string
	// Hooks are the manifests annotated helm.sh/hook, in Helm's order.
	Hooks []Hook
	// Documents are the same manifests then hooks, one document each,
	// with the template and position each comes from and what a second
	// render gives for it.
	Documents []Document
	// Declared are the images the image annotations of the chart and its
	// enabled subcharts declare (ImageAnnotations).
	Declared []DeclaredImage
	// Warnings say what could not be read of those annotations.
	Warnings []string
}

// Hook is one rendered hook manifest.
type Hook struct {
	Events   []string // "pre-install", "post-upgrade", "test", ...
	Path     string   // the template it came from, e.g. "app/templates/migrate.yaml"
	Manifest string
}

// Render renders r. A dependency the chart declares but does not vendor
// under charts/ is an error naming it and the command that vendors it.
// values.schema.json is not checked: its $refs may point at the network.
// The chart and values files are read under the repository's rule; the
// templates run in this process, with no bound on their time or memory:
// a Worker with a Sandbox bounds them.
func Render(ctx context.Context, r Release) (*Rendered, error) {
	return NewWorker(Sandbox{}).Render(ctx, r)
}

// job is what rendering needs once the files are read: no path, no file
// system, so that it can run in another process.
type job struct {
	Name        string
	Namespace   string
	KubeVersion string
	APIVersions []string
	Files       []*loader.BufferedFile // the chart's, as Helm's loader would read them
	Values      []valuesFile
	Set         []setValue
}

type valuesFile struct {
	Name string // for messages
	Data []byte
}

// setValue is a Value with its value as JSON, which keeps numbers exact
// on their way to a child process.
type setValue struct {
	Key  string
	JSON json.RawMessage
}

// readJob reads r's chart and values files under the rule of r.Root.
func readJob(r Release) (*job, error) {
	chartPath, err := filepath.Abs(r.Chart)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	root := r.Root
	if root == "" {
		root = filepath.Dir(chartPath)
	}
	repo, err := repofs.Open(root)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	defer repo.Close()
	j := &job{Name: r.Name, Namespace: r.Namespace, KubeVersion: r.KubeVersion, APIVersions: r.APIVersions}
	if j.Files, err = chartFiles(repo, chartPath); err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	for _, file := range r.ValuesFiles {
		abs, err := filepath.Abs(file)
		if err != nil {
			return nil, fmt.Errorf("read values: %w", err)
		}
		data, err := repo.ReadFile(abs) // a file of the repository, never a URL
		if err != nil {
			return nil, fmt.Errorf("read values: %w", err)
		}
		j.Values = append(j.Values, valuesFile{Name: file, Data: data})
	}
	for _, v := range r.Set {
		data, err := json.Marshal(v.Value)
		if err != nil {
			return nil, fmt.Errorf("set %q: %w", v.Key, err)
		}
		j.Set = append(j.Set, setValue{Key: v.Key, JSON: data})
	}
	return j, nil
}

// run renders the job in this process. An error of Helm's, which may
// quote what a template read or printed (a `fail` message), is shown
// through excerpt.Text.
func (j *job) run() (*Rendered, error) {
	ch, err := loader.LoadFiles(j.Files)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", excerpt.Error(err))
	}
	if err := checkDependencies(ch, ch.Name()); err != nil {
		return nil, err
	}
	vals, err := mergeValues(j.Values, j.Set)
	if err != nil {
		return nil, err
	}
	prepared, err := prepare(ch, vals, j)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", ch.Name(), excerpt.Error(err))
	}
	// Rendered twice, each time from values of its own (a template may
	// change the maps it is given), to tell what changes between renders.
	var files [2]map[string]string
	for i := range files {
		if files[i], err = prepared.render(); err != nil {
			return nil, fmt.Errorf("render chart %s: %w", ch.Name(), excerpt.Error(err))
		}
	}
	out, err := sortRendered(files[0], files[1])
	if err != nil {
		return nil, err
	}
	values, err := prepared.values()
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", ch.Name(), err)
	}
	out.Declared, out.Warnings = declaredImages(ch, values, ch.Name())
	return out, nil
}

// prepared is a chart ready to render: its dependencies processed, its
// release options and capabilities set.
type prepared struct {
	ch   *chart.Chart
	vals map[string]any
	opts chartutil.ReleaseOptions
	caps *chartutil.Capabilities
}

// values are the chart's values as its templates see them (.Values),
// computed afresh.
func (p *prepared) values() (chartutil.Values, error) {
	top, err := p.top()
	if err != nil {
		return nil, err
	}
	return top.Table("Values")
}

// top is the whole of what templates see (.Values, .Release,
// .Capabilities, ...), computed afresh.
func (p *prepared) top() (chartutil.Values, error) {
	const skipSchemaValidation = true
	return chartutil.ToRenderValuesWithSchemaValidation(p.ch, p.vals, p.opts, p.caps, skipSchemaValidation)
}

// render renders every template of the chart.
func (p *prepared) render() (map[string]string, error) {
	top, err := p.top()
	if err != nil {
		return nil, err
	}
	var e engine.Engine // no cluster to look objects up in, no DNS
	return e.Render(p.ch, top)
}

// prepare takes the steps of a client-only dry-run install before the
// templates render: the release name checked, dependencies enabled by
// their conditions and tags with their import-values, the chart's
// kubeVersion range checked, .Release and .Capabilities set.
func prepare(ch *chart.Chart, vals map[string]any, r *job) (*prepared, error) {
	if err := chartutil.ValidateReleaseName(r.Name); err != nil {
		return nil, fmt.Errorf("release name %q: %w", r.Name, err)
	}
	caps, err := capabilities(r)
	if err != nil {
		return nil, err
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return nil, err
	}
	if kv := ch.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", kv, caps.KubeVersion.String())
	}
	namespace := r.Namespace
	if namespace == "" {
		namespace = DefaultNamespace
	}
	opts := chartutil.ReleaseOptions{Name: r.Name, Namespace: namespace, Revision: 1, IsInstall: true}
	return &prepared{ch: ch, vals: vals, opts: opts, caps: caps}, nil
}

// capabilities are Helm's defaults with r's Kubernetes version and extra
// API versions, as a client-only install sets them.
func capabilities(r *job) (*chartutil.Capabilities, error) {
	kubeVersion := r.KubeVersion
	if kubeVersion == "" {
		kubeVersion = DefaultKubeVersion
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, fmt.Errorf("kube_version %q: %w", r.KubeVersion, err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	caps.APIVersions = append(caps.APIVersions, r.APIVersions...)
	return caps, nil
}

// sortRendered splits the rendered files into hooks and the manifest, in
// Helm's install order, each manifest under a "# Source:" line as helm
// prints it, and into documents, each with the same document of a second
// render (again). NOTES.txt files are neither; empty files are dropped.
func sortRendered(files, again map[string]string) (*Rendered, error) {
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, m.Content)
	}
	out := &Rendered{Manifest: b.String(), Documents: documents(manifests, hooks, files, again)}
	for _, h := range hooks {
		hook := Hook{Path: h.Path, Manifest: h.Manifest}
		for _, e := range h.Events {
			hook.Events = append(hook.Events, string(e))
		}
		out.Hooks = append(out.Hooks, hook)
	}
	return out, nil
}

// mergeValues merges the values files and the set values as `helm -f a
// -f b --set-json k=v` would: each file over the ones before, map by map,
// a value of any other kind (a list too) replacing what was there; then
// each set value with Helm's own parser.
func mergeValues(files []valuesFile, set []setValue) (map[string]any, error) {
	vals := map[string]any{}
	for _, file := range files {
		var layer map[string]any
		if err := yaml.Unmarshal(file.Data, &layer); err != nil {
			return nil, fmt.Errorf("read values: failed to parse %s: %w", file.Name, excerpt.Error(err))
		}
		vals = overlay(vals, layer)
	}
	for _, v := range set {
		if strings.ContainsAny(v.Key, "=,") {
			return nil, fmt.Errorf("set %q: a key may not hold '=' or ','", v.Key)
		}
		if err := strvals.ParseJSON(v.Key+"="+string(v.JSON), vals); err != nil {
			return nil, fmt.Errorf("set %q: %w", v.Key, excerpt.Error(err))
		}
	}
	return vals, nil
}

// overlay returns base with top laid over it: where both hold a map under
// a key the maps are overlaid in turn, else top's value wins (null
// included: it removes a chart default later, as with helm).
func overlay(base, top map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(top))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range top {
		if sub, ok := v.(map[string]any); ok {
			if below, ok := out[k].(map[string]any); ok {
				out[k] = overlay(below, sub)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// checkDependencies refuses a chart (or a vendored subchart, at any depth)
// whose Chart.yaml declares a dependency that is not under its charts/
// directory: helm would refuse it too, and rendering without it would
// silently lose its images.
func checkDependencies(ch *chart.Chart, path string) error {
	var missing []string
	for _, dep := range ch.Metadata.Dependencies {
		if !vendored(ch, dep.Name) {
			m := dep.Name
			if dep.Version != "" {
				m += " " + dep.Version
			}
			if dep.Repository != "" {
				m += " from " + dep.Repository
			}
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("chart %s declares dependencies that are not vendored under charts/: %s; "+
			"run \"helm dependency build\" in the chart's directory and commit charts/", path, strings.Join(missing, ", "))
	}
	for _, sub := range ch.Dependencies() {
		if err := checkDependencies(sub, path+"/charts/"+sub.Name()); err != nil {
			return err
		}
	}
	return nil
}

// vendored reports whether ch holds a subchart called name.
func vendored(ch *chart.Chart, name string) bool {
	for _, sub := range ch.Dependencies() {
		if sub.Name() == name {
			return true
		}
	}
	return false
}

// Package helmrender renders a Helm chart the way `helm install --dry-run`
// does without a cluster: Helm's own Go SDK (action.Install, client only),
// the chart's vendored dependencies, values merged like `helm -f a -f b
// --set-json`, and fixed capabilities, so that the same chart and values
// give the same manifests on every machine. It reads no kubeconfig, no
// HELM_* variable and no repository index, and reaches no network.
package helmrender

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/strvals"
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
	// Chart is the absolute path of a chart directory or .tgz archive.
	Chart string
	// ValuesFiles are absolute paths of values files, merged in order
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
func Render(ctx context.Context, r Release) (*Rendered, error) {
	ch, err := loader.Load(r.Chart)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	if err := checkDependencies(ch, ch.Name()); err != nil {
		return nil, err
	}
	vals, err := mergeValues(r)
	if err != nil {
		return nil, err
	}
	install, err := newInstall(r)
	if err != nil {
		return nil, err
	}
	rel, err := install.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", ch.Name(), err)
	}
	out := &Rendered{Manifest: rel.Manifest}
	for _, h := range rel.Hooks {
		hook := Hook{Path: h.Path, Manifest: h.Manifest}
		for _, e := range h.Events {
			hook.Events = append(hook.Events, string(e))
		}
		out.Hooks = append(out.Hooks, hook)
	}
	return out, nil
}

// newInstall configures a client-only dry-run install: Helm's in-memory
// release storage and a kube client that talks to nothing, fixed
// capabilities, no lookups of DNS or cluster objects.
func newInstall(r Release) (*action.Install, error) {
	kubeVersion := r.KubeVersion
	if kubeVersion == "" {
		kubeVersion = DefaultKubeVersion
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, fmt.Errorf("kube_version %q: %w", r.KubeVersion, err)
	}
	namespace := r.Namespace
	if namespace == "" {
		namespace = DefaultNamespace
	}
	// Install's client-only mode replaces the capabilities, releases and
	// kube client of this configuration; Log only has to be non-nil.
	cfg := &action.Configuration{Log: func(string, ...any) {}}
	install := action.NewInstall(cfg)
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true // as `helm template` does: no release history to clash with
	install.ReleaseName = r.Name
	install.Namespace = namespace
	install.KubeVersion = kv
	install.APIVersions = chartutil.VersionSet(r.APIVersions)
	install.SkipSchemaValidation = true
	install.DisableHooks = false
	install.IncludeCRDs = false
	return install, nil
}

// mergeValues merges the values files and Set with Helm's own code, as
// `helm -f a -f b --set-json k=v` would.
func mergeValues(r Release) (map[string]any, error) {
	opts := values.Options{ValueFiles: r.ValuesFiles}
	vals, err := opts.MergeValues(nil) // no getters: a values file is a local file, never a URL
	if err != nil {
		return nil, fmt.Errorf("read values: %w", err)
	}
	for _, v := range r.Set {
		data, err := json.Marshal(v.Value)
		if err != nil {
			return nil, fmt.Errorf("set %q: %w", v.Key, err)
		}
		if strings.ContainsAny(v.Key, "=,") {
			return nil, fmt.Errorf("set %q: a key may not hold '=' or ','", v.Key)
		}
		if err := strvals.ParseJSON(v.Key+"="+string(data), vals); err != nil {
			return nil, fmt.Errorf("set %q: %w", v.Key, err)
		}
	}
	return vals, nil
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

package helmrender

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/strvals"
)

// The reference: what Render does without action.Install, held equal to
// a client-only dry-run action.Install (helm template) with values merged
// by Helm's own values.Options, on every chart and value set below. The
// action package is linked into this test only.

// referenceRender renders r with action.Install as `helm template` does.
func referenceRender(t *testing.T, r Release) (*Rendered, error) {
	t.Helper()
	ch, err := loader.Load(r.Chart)
	if err != nil {
		t.Fatal(err)
	}
	opts := values.Options{ValueFiles: r.ValuesFiles}
	vals, err := opts.MergeValues(nil)
	if err != nil {
		return nil, err
	}
	for _, v := range r.Set {
		data, _ := json.Marshal(v.Value)
		if err := strvals.ParseJSON(v.Key+"="+string(data), vals); err != nil {
			return nil, err
		}
	}
	kubeVersion := r.KubeVersion
	if kubeVersion == "" {
		kubeVersion = DefaultKubeVersion
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, err
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName = r.Name
	install.Namespace = r.Namespace
	if install.Namespace == "" {
		install.Namespace = DefaultNamespace
	}
	install.KubeVersion = kv
	install.APIVersions = chartutil.VersionSet(r.APIVersions)
	install.SkipSchemaValidation = true
	rel, err := install.RunWithContext(context.Background(), ch, vals)
	if err != nil {
		return nil, err
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

func TestRenderEqualsHelmTemplate(t *testing.T) {
	app := appChart(t)
	stack := vendoredStack(t)
	in := func(dir string, files ...string) []string {
		var out []string
		for _, f := range files {
			out = append(out, filepath.Join(dir, f))
		}
		return out
	}
	tests := []struct {
		name string
		r    Release
	}{
		{"app", Release{Name: "demo", Chart: app}},
		{"app, files", Release{Name: "demo", Chart: app, ValuesFiles: in(app, "values-a.yaml", "values-b.yaml")}},
		{"app, set", Release{Name: "demo", Chart: app, Set: []Value{{Key: "image.tag", Value: "4.0"}, {Key: "replicas", Value: 3}, {Key: "text", Value: "a,b=c"}}}},
		{"app, capabilities", Release{Name: "rel", Chart: app, Namespace: "ai-infra", KubeVersion: "1.29.3", APIVersions: []string{"monitoring.coreos.com/v1"}}},
		{"stack", Release{Name: "stack", Chart: stack}},
		{"stack, prod and eu", Release{Name: "stack", Chart: stack, ValuesFiles: in(stack, "values-prod.yaml", "values-eu.yaml")}},
		{"stack, eu then prod", Release{Name: "stack", Chart: stack, ValuesFiles: in(stack, "values-eu.yaml", "values-prod.yaml"), Namespace: "prod"}},
		{"bad release name", Release{Name: "Not_Valid", Chart: app}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, wantErr := referenceRender(t, tt.r)
			got, err := Render(context.Background(), tt.r)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("Render error %v, helm template error %v", err, wantErr)
			}
			if wantErr != nil {
				return
			}
			if got.Manifest != want.Manifest {
				t.Errorf("manifest differs from helm template's:\n--- Render\n%s\n--- helm template\n%s", got.Manifest, want.Manifest)
			}
			if !reflect.DeepEqual(got.Hooks, want.Hooks) {
				t.Errorf("hooks differ from helm template's:\n%+v\n%+v", got.Hooks, want.Hooks)
			}
			if !strings.Contains(got.Manifest, "image:") {
				t.Errorf("the test chart renders no image:\n%s", got.Manifest)
			}
		})
	}
}

// TestMergeValuesEqualsHelm: values files merge as Helm's values.Options
// merges them: maps key by key, lists and scalars replaced, null kept.
func TestMergeValuesEqualsHelm(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"base.yaml":  "a: {b: 1, c: [1, 2], d: {e: x}}\nlist: [x, y]\ns: str\nnested: {deep: {deeper: 1}}\n",
		"over.yaml":  "a: {c: [3], d: {f: y}}\nlist: {now: map}\ns: null\nnested: {deep: 2}\nnew: true\n",
		"third.yaml": "nested: {deep: {again: 3}}\nlist: [z]\n",
		"empty.yaml": "",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, order := range [][]string{
		{"base.yaml", "over.yaml"},
		{"over.yaml", "base.yaml"},
		{"base.yaml", "over.yaml", "third.yaml", "empty.yaml"},
		{"empty.yaml", "third.yaml", "base.yaml"},
	} {
		var paths []string
		var layers []valuesFile
		for _, f := range order {
			paths = append(paths, filepath.Join(dir, f))
			layers = append(layers, valuesFile{Name: f, Data: []byte(files[f])})
		}
		want, err := (&values.Options{ValueFiles: paths}).MergeValues(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := mergeValues(layers, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v: merged %v, helm merges %v", order, got, want)
		}
	}
}

// vendoredStack copies discover's test chart "stack" to a temporary
// directory and vendors its postgresql dependency as a .tgz, as discover's
// tests do.
func vendoredStack(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "stack")
	if err := os.CopyFS(dir, os.DirFS("../discover/testdata/kube/repo/helm/stack")); err != nil {
		t.Fatal(err)
	}
	pg, err := loader.LoadDir("../discover/testdata/kube/postgresql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chartutil.Save(pg, filepath.Join(dir, "charts")); err != nil {
		t.Fatal(err)
	}
	return dir
}

package helmrender

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// appChart copies testdata/app to a temporary directory and vendors
// testdata/sub into its charts/ as the .tgz `helm package` makes.
func appChart(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	if err := os.CopyFS(dir, os.DirFS("testdata/app")); err != nil {
		t.Fatal(err)
	}
	sub, err := loader.LoadDir("testdata/sub")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chartutil.Save(sub, filepath.Join(dir, "charts")); err != nil {
		t.Fatal(err)
	}
	return dir
}

var imageLine = regexp.MustCompile(`(?m)^\s+image: "?([^"\n]+)"?$`)

func images(manifest string) []string {
	var out []string
	for _, m := range imageLine.FindAllStringSubmatch(manifest, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}

func TestRender(t *testing.T) {
	dir := appChart(t)
	r, err := Render(context.Background(), Release{Name: "demo", Chart: dir})
	if err != nil {
		t.Fatal(err)
	}
	// The chart's own Deployment, the directory subchart's and the .tgz
	// subchart's; not the hook's images, not NOTES.txt's.
	want := []string{"example/app:1.0", "nginx:1.27-alpine", "postgres:15-alpine"}
	if got := images(r.Manifest); !slices.Equal(got, want) {
		t.Errorf("manifest images = %v, want %v\n%s", got, want, r.Manifest)
	}
	if len(r.Hooks) != 1 {
		t.Fatalf("hooks = %+v", r.Hooks)
	}
	h := r.Hooks[0]
	if h.Path != "app/templates/migrate.yaml" || strings.Join(h.Events, ",") != "pre-install,pre-upgrade" {
		t.Errorf("hook = %+v", h)
	}
	if got := images(h.Manifest); !slices.Equal(got, []string{"busybox:1.36", "example/migrate:1"}) {
		t.Errorf("hook images = %v", got)
	}
	for _, want := range []string{"name: demo-app", "namespace: default", `kube-version: "` + DefaultKubeVersion + `"`,
		`has-monitoring: "false"`} {
		if !strings.Contains(r.Manifest, want) {
			t.Errorf("manifest lacks %q", want)
		}
	}
	// The same input renders the same bytes.
	again, err := Render(context.Background(), Release{Name: "demo", Chart: dir})
	if err != nil || again.Manifest != r.Manifest || again.Hooks[0].Manifest != h.Manifest {
		t.Errorf("second render differs (%v)", err)
	}
}

func TestRenderArchive(t *testing.T) {
	ch, err := loader.LoadDir(appChart(t))
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(context.Background(), Release{Name: "demo", Chart: tgz})
	if err != nil {
		t.Fatal(err)
	}
	if got := images(r.Manifest); len(got) != 3 {
		t.Errorf("archive renders %v", got)
	}
}

func TestRenderValues(t *testing.T) {
	dir := appChart(t)
	tests := []struct {
		name  string
		files []string
		set   []Value
		want  []string // substrings of the Deployment
	}{
		{"files in order", []string{"values-a.yaml", "values-b.yaml"}, nil,
			[]string{"image: \"example/app:3.0\"", `note: "from-a"`}},
		{"files reversed", []string{"values-b.yaml", "values-a.yaml"}, nil,
			[]string{"image: \"example/app:2.0\""}},
		{"set wins over files", []string{"values-a.yaml"}, []Value{{Key: "image.tag", Value: "4.0"}},
			[]string{"image: \"example/app:4.0\""}},
		{"a string stays a string, commas and all", nil, []Value{{Key: "text", Value: "a,b=c"}, {Key: "replicas", Value: "2"}},
			[]string{`text: "a,b=c"`, `replicas-kind: "string"`}},
		{"a number stays a number", nil, []Value{{Key: "replicas", Value: 3}},
			[]string{"replicas: 3", `replicas-kind: "float64"`}},
		{"later set wins", nil, []Value{{Key: "image.tag", Value: "5"}, {Key: "image.tag", Value: "6"}},
			[]string{"example/app:6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []string
			for _, f := range tt.files {
				files = append(files, filepath.Join(dir, f))
			}
			r, err := Render(context.Background(), Release{Name: "demo", Chart: dir, ValuesFiles: files, Set: tt.set})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Manifest, w) {
					t.Errorf("manifest lacks %q:\n%s", w, r.Manifest)
				}
			}
		})
	}
}

func TestRenderCapabilities(t *testing.T) {
	r, err := Render(context.Background(), Release{Name: "demo", Chart: appChart(t), Namespace: "ai-infra",
		KubeVersion: "1.29.3", APIVersions: []string{"monitoring.coreos.com/v1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"namespace: ai-infra", `kube-version: "v1.29.3"`, `has-monitoring: "true"`} {
		if !strings.Contains(r.Manifest, want) {
			t.Errorf("manifest lacks %q", want)
		}
	}
}

// TestRenderIgnoresEnvironment sets what helm and kubectl read from the
// environment; none of it may change what renders.
func TestRenderIgnoresEnvironment(t *testing.T) {
	dir := appChart(t)
	want, err := Render(context.Background(), Release{Name: "demo", Chart: dir})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte("not: [a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kubeconfig)
	t.Setenv("HELM_NAMESPACE", "elsewhere")
	t.Setenv("HELM_KUBECONTEXT", "prod")
	t.Setenv("HELM_KUBEVERSION", "1.10.0")
	t.Setenv("HELM_DEBUG", "true")
	got, err := Render(context.Background(), Release{Name: "demo", Chart: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got.Manifest != want.Manifest {
		t.Errorf("environment changed the manifest:\n%s\nwant\n%s", got.Manifest, want.Manifest)
	}
}

func TestRenderErrors(t *testing.T) {
	dir := appChart(t)
	tests := []struct {
		name string
		r    Release
		want []string
	}{
		{"missing dependency", Release{Name: "m", Chart: "testdata/missing"},
			[]string{"chart missing declares dependencies that are not vendored under charts/: postgresql 12.1.0 from https://charts.example.com",
				`helm dependency build`}},
		{"vendored subchart missing its own dependency", Release{Name: "m", Chart: withSubDependency(t, dir)},
			[]string{"chart app/charts/web declares dependencies", "redis"}},
		{"bad kube version", Release{Name: "m", Chart: dir, KubeVersion: "one"}, []string{`kube_version "one"`}},
		{"bad release name", Release{Name: "Bad_Name", Chart: dir}, []string{"release name"}},
		{"no chart", Release{Name: "m", Chart: filepath.Join(dir, "nothing")}, []string{"load chart"}},
		{"bad set key", Release{Name: "m", Chart: dir, Set: []Value{{Key: "a=b", Value: "x"}}}, []string{`set "a=b"`}},
		{"missing values file", Release{Name: "m", Chart: dir, ValuesFiles: []string{filepath.Join(dir, "nope.yaml")}}, []string{"read values"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(context.Background(), tt.r)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// withSubDependency makes a copy of the app chart whose directory subchart
// declares a dependency it does not vendor.
func withSubDependency(t *testing.T, app string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	if err := os.CopyFS(dir, os.DirFS(app)); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "charts", "web", "Chart.yaml")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, "dependencies:\n  - name: redis\n    version: 1.0.0\n"...)
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

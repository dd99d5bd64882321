package scaffold

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/discover"
)

// TestInitFixture writes the config for the fixture, decodes it with
// internal/config and runs discovery with it: every source of the
// repository, nothing of the templates, backups, CI files and other
// projects' code.
func TestInitFixture(t *testing.T) {
	root := writeTree(t, fixture)
	path := filepath.Join(root, "images.hcl")
	res, err := Init(context.Background(), path, "registry.example.com/team")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"compose_project \"app\" {\n    files     = [\"docker-compose.yml\", \"docker-compose.override.yml\"]\n    env_files = [\".env\"]\n  }",
		"  # Left out: vendored (under third_party/), not this repository's project\n  # compose_project \"third_party-lib\" {",
		"    # The FROM of services/base/Dockerfile needs BASE: the value .github/workflows/build.yml gives.\n    \"BASE\" = \"alpine:3.20\"",
		`"services/api/Dockerfile.fragment", # no FROM instruction`,
		`helm "app-stack-prod" {`, `"k8s/overlays/prod", # uses k8s/base`, `"ops/logging/**/*.yml",`,
		"#   ops/templates/job.yaml: a template ({{...}} placeholders)",
		`# registry "docker.io" {`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("images.hcl lacks %q:\n%s", want, text)
		}
	}
	cfg, diags := config.Load(hclparse.NewParser(), path)
	if diags.HasErrors() || len(diags) > 0 {
		t.Fatalf("the written images.hcl: %v\n%s", diags, text)
	}
	found, err := discover.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("discovery with the written images.hcl: %v\n%s", err, text)
	}
	var refs []string
	for _, img := range found.Images {
		refs = append(refs, img.Ref.String())
	}
	want := []string{"docker.io/example/app:1", "docker.io/example/app:2", "docker.io/example/migrate:1", "docker.io/example/web:2",
		"docker.io/fluent/fluent-bit:3", "docker.io/library/alpine:3.20", "docker.io/library/busybox:1.36", "docker.io/library/golang:1.25",
		"docker.io/library/nginx:1.27", "docker.io/library/node:22", "docker.io/library/node:22-alpine", "docker.io/library/postgres:15-alpine",
		"docker.io/library/python:3.13-slim", "docker.io/library/redis:7", "docker.io/prom/prometheus:v3", "gcr.io/distroless/static:latest"}
	if !reflect.DeepEqual(refs, want) {
		t.Errorf("discovered %v\nwant %v", refs, want)
	}
	if len(found.Builds) != 1 || found.Builds[0].Ref.String() != "docker.io/example/web:1" || len(found.Warnings) > 0 {
		t.Errorf("builds = %+v, warnings %v", found.Builds, found.Warnings)
	}
	// Init ran the same discovery before writing the file.
	if res.Problems != nil || !reflect.DeepEqual(res.Found, found) {
		t.Errorf("Init's own discovery: %v %+v", res.Problems, res.Found)
	}
}

// TestInitDeterministic: two runs on one tree, and a run on the same tree
// under another folder name, write the same bytes.
func TestInitDeterministic(t *testing.T) {
	var texts []string
	for range 3 {
		root := filepath.Join(writeTree(t, fixture), "other-name")
		if err := os.CopyFS(root, os.DirFS(writeTree(t, fixture))); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(root, "images.hcl")
		if _, err := Init(context.Background(), path, "registry.example.com/team"); err != nil {
			t.Fatal(err)
		}
		text, _ := os.ReadFile(path)
		texts = append(texts, string(text))
	}
	if texts[0] != texts[1] || texts[1] != texts[2] {
		t.Errorf("init wrote different files:\n%s\n---\n%s", texts[0], texts[1])
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	root := writeTree(t, map[string]string{"images.hcl": "# mine\n", "Dockerfile": "FROM alpine\n"})
	path := filepath.Join(root, "images.hcl")
	_, err := Init(context.Background(), path, "registry.example.com/team")
	if !errors.Is(err, ErrExist) || !strings.Contains(err.Error(), "images.hcl already exists: init never overwrites it") {
		t.Errorf("Init over an existing file: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "# mine\n" {
		t.Errorf("Init changed the existing file: %q", got)
	}
}

func TestInitBadTarget(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "images.hcl")
	for _, target := range []string{"https://registry.example.com", "team", "registry.example.com/Team", "${HOME}.example.com"} {
		_, err := Init(context.Background(), path, target)
		if err == nil || !strings.HasPrefix(err.Error(), "--target ") {
			t.Errorf("Init with target %q: %v", target, err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("Init with a bad target wrote images.hcl")
	}
}

// TestInitEmptyRepository: nothing found is still a config that decodes,
// with the attributes to fill in shown as comments.
func TestInitEmptyRepository(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "images.hcl")
	res, err := Init(context.Background(), path, "localhost:5000")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(path)
	for _, want := range []string{`# compose_project "app" { files = ["docker-compose.yml"] }`, "# dockerfiles = [\"**/Dockerfile*\"]",
		"# kustomize = [\"deploy/overlays/prod\"]", "# kubernetes = [\"deploy/**/*.yaml\"]"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("images.hcl lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(string(text), "exclude") || strings.Contains(string(text), "env_files") || strings.Contains(string(text), "Left out") {
		t.Errorf("images.hcl of an empty repository:\n%s", text)
	}
	if _, diags := config.Load(hclparse.NewParser(), path); diags.HasErrors() {
		t.Fatalf("does not decode: %v\n%s", diags, text)
	}
	if res.Problems != nil || len(res.Found.Images) != 0 {
		t.Errorf("discovery of nothing: %v %+v", res.Problems, res.Found)
	}
}

// TestInitLeavesOutWhatFails: a source that fails to load is proposed
// commented out with the loader's reason, and the rest still works.
func TestInitLeavesOutWhatFails(t *testing.T) {
	root := writeTree(t, map[string]string{
		"compose.yaml":                       "services:\n  web:\n    build: web\n",
		"compose.elk.yaml":                   "services:\n  elk:\n    build: elk\n", // a layer whose Dockerfile is gone
		"web/Dockerfile":                     "FROM nginx:1.27\n",
		"chart/Chart.yaml":                   "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.com\n",
		"chart/templates/web.yaml":           deployment("web", "nginx:1.27"),
		"deploy/prod/kustomization.yaml":     "resources:\n- github.com/org/repo//deploy?ref=v1\n",
		"windows/compose.yaml":               "services:\n  web:\n    image: ${WEB_IMAGE:?set it}\n",
		"deploy/broken/kustomization.yaml":   "resources:\n- missing.yaml\n",
		"deploy/broken/other/Dockerfile.txt": "notes\n",
		"os/compose.yaml":                    "services:\n  api:\n    image: example/api:1\n    build: api\n",
		"os/compose.windows.yaml":            "services:\n  api:\n    image: example/api:1\n    build: {context: api, dockerfile: Dockerfile.windows}\n",
		"os/api/Dockerfile":                  "FROM alpine:3.20\n",
		"os/api/Dockerfile.windows":          "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n",
	})
	res, err := Init(context.Background(), filepath.Join(root, "images.hcl"), "registry.example.com/team")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(filepath.Join(root, "images.hcl"))
	for _, want := range []string{
		"#   compose.elk.yaml: layered on compose.yaml, its build of elk names elk/Dockerfile, which cannot be read (file does not exist)",
		"  # compose.yaml: the folder's default compose file.\n  compose_project \"app\" {\n    files = [\"compose.yaml\"]",
		"# Left out: it fails to render: chart app declares dependencies that are not vendored under charts/: redis 1.0.0",
		"# Left out: deploy/prod/kustomization names \"github.com/org/repo//deploy?ref=v1\", which kustomize would fetch",
		"# Left out: it fails to load: ", "required variable WEB_IMAGE is missing a value",
		"# Left out: it fails to build: ",
		"# Left out: it builds docker.io/example/api:1 (service api) from another definition than project os does: discovery refuses one image built two ways\n  # compose_project \"os-windows\" {",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("images.hcl lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(string(text), root) {
		t.Errorf("images.hcl names the checkout's folder %s: it would differ in another clone:\n%s", root, text)
	}
	if res.Problems != nil || len(res.Found.Images) != 3 || len(res.Found.Builds) != 2 {
		t.Errorf("discovery with what init kept: %v %+v\n%s", res.Problems, res.Found, text)
	}
}

// TestInitPlaceholder: a FROM argument the repository gives no value for
// gets a placeholder that makes discovery fail naming the Dockerfile.
func TestInitPlaceholder(t *testing.T) {
	root := writeTree(t, map[string]string{"build/Dockerfile": "ARG FROM\nFROM ${FROM}\n"})
	res, err := Init(context.Background(), filepath.Join(root, "images.hcl"), "registry.example.com/team")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(filepath.Join(root, "images.hcl"))
	if !strings.Contains(string(text), "    # PLACEHOLDER: the FROM of build/Dockerfile needs FROM and the repository gives no value:\n"+
		"    # set it, or lock fails naming the file.\n    \"FROM\" = \"<set FROM: the repository gives no value for FROM in build/Dockerfile>\"") {
		t.Errorf("images.hcl:\n%s", text)
	}
	if res.Problems == nil || !strings.Contains(res.Problems.Error(), `build/Dockerfile:2: FROM ${FROM}: invalid image reference "<set FROM`) {
		t.Errorf("discovery with the placeholder: %v", res.Problems)
	}
}

func TestIgnoreCache(t *testing.T) {
	for _, tt := range []struct {
		name, before, after string
		added               bool
		note                string
	}{
		{"appended", "bin/\n", "bin/\n\n# imagesync's cache (charts it fetches)\n/.imagesync/\n", true, ""},
		{"no final newline", "bin/", "bin/\n\n# imagesync's cache (charts it fetches)\n/.imagesync/\n", true, ""},
		{"already ignored", "bin/\n.imagesync/\n", "bin/\n.imagesync/\n", false, ""},
		{"none", "", "", false, "no .gitignore next to images.hcl"},
	} {
		dir := t.TempDir()
		name := filepath.Join(dir, ".gitignore")
		if tt.before != "" {
			if err := os.WriteFile(name, []byte(tt.before), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		g := ignoreCache(dir)
		after, _ := os.ReadFile(name)
		if g.Added != tt.added || !strings.HasPrefix(g.Note, tt.note) || (tt.note == "") != (g.Note == "") || string(after) != tt.after {
			t.Errorf("%s: %+v, file %q", tt.name, g, after)
		}
		if fi, err := os.Stat(name); tt.added && (err != nil || fi.Mode().Perm() != 0o600) {
			t.Errorf("%s: mode %v, want the user's 0600", tt.name, fi.Mode())
		}
	}
	dir := t.TempDir()
	if err := os.Symlink("elsewhere", filepath.Join(dir, ".gitignore")); err != nil {
		t.Fatal(err)
	}
	if g := ignoreCache(dir); g.Added || !strings.Contains(g.Note, "not a regular file") {
		t.Errorf("a symbolic link: %+v", g)
	}
}

func TestDockerfileGlobs(t *testing.T) {
	for _, tt := range []struct {
		files []string
		want  []string
	}{
		{nil, nil},
		{[]string{"Dockerfile"}, []string{"**/Dockerfile*"}},
		{[]string{"Dockerfile", "src/app/Dockerfile"}, []string{"**/Dockerfile*"}},
		{[]string{"src/app/Dockerfile"}, []string{"src/app/**/Dockerfile*"}},
		{[]string{"src/a/Dockerfile", "src/b/Dockerfile.prod"}, []string{"src/**/Dockerfile*"}},
		{[]string{"src/a/x.Dockerfile"}, []string{"src/a/**/*.Dockerfile"}},
		{[]string{"srcs/a/Dockerfile", "src/b/Dockerfile"}, []string{"**/Dockerfile*"}},
		{[]string{"build/Dockerfile", "build/web.Dockerfile"}, []string{"build/**/Dockerfile*", "build/**/*.Dockerfile"}},
	} {
		if got := dockerfileGlobs(tt.files); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("dockerfileGlobs(%v) = %v, want %v", tt.files, got, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"registry.example.com/team": `"registry.example.com/team"`,
		"a${b}/%{c}":                `"a$${b}/%%{c}"`,
		`say "hi"\`:                 `"say \"hi\"\\"`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestHelmReleases(t *testing.T) {
	long := strings.Repeat("a", 60)
	got := helmReleases([]Chart{{Dir: "a", Name: "web"}, {Dir: "b", Name: "Web", Values: []string{"b/values-prod.yaml", "b/values.dev.yml"}},
		{Dir: "c/x_y"}, {Dir: "d", Name: "__"}, {Dir: "e", Name: long}, {Dir: "f", Name: long}})
	var names []string
	for _, h := range got {
		names = append(names, h.Name+"="+strings.Join(h.Values, ","))
	}
	want := []string{"web=", "web-2=", "web-prod=b/values-prod.yaml", "web-dev=b/values.dev.yml", "x-y=", "release=", long[:53] + "=", long[:51] + "-2="}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("names = %v, want %v", names, want)
	}
	for _, h := range got {
		if err := chartutil.ValidateReleaseName(h.Name); err != nil {
			t.Errorf("%q: %v", h.Name, err)
		}
	}
}

// TestInitChartValuesFromScript: a chart whose templates need values
// from files outside it is rendered with the values files its deploy
// script passes to helm, and proposed with them.
func TestInitChartValuesFromScript(t *testing.T) {
	root := writeTree(t, map[string]string{
		"deploy/helm/app.yaml":                 "app:\n  image: example/api:1\n",
		"deploy/helm/api/Chart.yaml":           "apiVersion: v2\nname: api\nversion: 1.0.0\n",
		"deploy/helm/api/templates/api.yaml":   deployment("api", "{{ .Values.app.image }}"),
		"deploy/helm/deploy.sh":                "#!/bin/sh\nfor c in api; do\n  helm install \"$c\" --values app.yaml -f $EXTRA $c\ndone\n",
		"deploy/helm/other/Chart.yaml":         "apiVersion: v2\nname: other\nversion: 1.0.0\n",
		"deploy/helm/other/templates/bad.yaml": deployment("x", "{{ .Values.missing.image }}"),
	})
	res, err := Init(context.Background(), filepath.Join(root, "images.hcl"), "registry.example.com/team")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(filepath.Join(root, "images.hcl"))
	for _, want := range []string{
		"  helm \"api\" {\n    chart = \"deploy/helm/api\"\n    # The chart needs values from outside it: those deploy/helm/deploy.sh passes to helm first.\n" +
			"    values = [\"deploy/helm/app.yaml\"]\n",
		"# Left out: it fails to render: ",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("images.hcl lacks %q:\n%s", want, text)
		}
	}
	if res.Problems != nil || len(res.Found.Images) != 1 || res.Found.Images[0].Ref.String() != "docker.io/example/api:1" {
		t.Errorf("discovery: %v %+v", res.Problems, res.Found)
	}
}

// TestInitRootComposeLeftOut: when the root's default compose file fails
// to load, the file init writes keeps discovery from loading it by
// default: `compose = []` without a compose_project block, nothing beside
// one (where the attribute is an error).
func TestInitRootComposeLeftOut(t *testing.T) {
	broken := "services:\n  web:\n    image: ${WEB_IMAGE:?set it}\n"
	for _, tt := range []struct {
		name      string
		files     map[string]string
		noCompose bool
	}{
		{"alone", map[string]string{"compose.yaml": broken}, true},
		{"beside another project", map[string]string{"compose.yaml": broken, "tools/compose.yaml": "services:\n  t:\n    image: alpine:3.20\n"}, false},
	} {
		root := writeTree(t, tt.files)
		path := filepath.Join(root, "images.hcl")
		if _, err := Init(context.Background(), path, "registry.example.com/team"); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		text, _ := os.ReadFile(path)
		if strings.Contains(string(text), "\n  compose = []\n") != tt.noCompose || !strings.Contains(string(text), "# Left out: it fails to load: ") {
			t.Errorf("%s:\n%s", tt.name, text)
		}
		if _, diags := config.Load(hclparse.NewParser(), path); diags.HasErrors() {
			t.Errorf("%s: %v", tt.name, diags)
		}
	}
}

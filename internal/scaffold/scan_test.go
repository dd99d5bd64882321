package scaffold

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// broken is a Dockerfile discovery refuses (BuildKit rejects a variable in
// COPY --from): the fixture's templates, backups and other projects' files
// hold it, so that discovery fails if the generated config scans them.
const broken = "FROM {{ .Base }}\nCOPY --from=$X /a /b\n"

// fixture is a repository as init meets it: every kind of source, with
// the templates, backups, CI files and other projects' code around them.
var fixture = map[string]string{
	"docker-compose.yml": `services:
  web:
    build: services/web
    image: example/web:1
  db:
    image: postgres:${PG:-16}-alpine
`,
	"docker-compose.override.yml":               "services:\n  cache:\n    image: redis:7\n",
	"docker-compose.yml.bak":                    "services:\n  old:\n    image: redis:5\n",
	".env":                                      "PG=15\n",
	"services/web/Dockerfile":                   "FROM node:22-alpine\n",
	"services/web/Dockerfile.dev":               "FROM node:22\n",
	"services/web/.dockerignore":                "node_modules\n",
	"services/web/Dockerfile.dockerignore":      "*\n",
	"services/web/node_modules/pkg/Dockerfile":  broken,
	"services/api/Dockerfile":                   "FROM golang:1.25 AS build\nFROM gcr.io/distroless/static\nCOPY --from=build /app /app\n",
	"services/api/Dockerfile.tpl":               broken,
	"services/api/Dockerfile.orig":              broken,
	"services/api/Dockerfile.fragment":          "RUN apk add curl\n",
	"services/worker/worker.Dockerfile":         "FROM python:3.13-slim\n",
	"services/base/Dockerfile":                  "ARG BASE\nFROM ${BASE}\n",
	"deploy/compose.yaml":                       "services:\n  edge:\n    image: nginx:1.27\n",
	"deploy/compose.override.yml":               "services:\n  edge:\n    ports: ['80:80']\n",
	"tools/docker-compose.override.yml":         "services: {}\n", // an override alone is no project
	".git/Dockerfile":                           broken,
	"vendor/github.com/x/y/Dockerfile":          broken,
	"third_party/lib/docker-compose.yml":        "services:\n  lib:\n    build: .\n",
	"third_party/lib/Dockerfile":                broken,
	"docs/Dockerfile-guide.md":                  "not a Dockerfile\n",
	"services/web/src/notes.bak":                "not a leftover of a Dockerfile or compose file\n",
	"services/web/docker-compose.yml.swp":       "not a compose file\n",
	"services/api/compose.override.yaml.backup": "services: {}\n",
	"helm/app/Chart.yaml":                       "apiVersion: v2\nname: App_Stack\nversion: 0.1.0\n",
	"helm/app/values.yaml":                      "image: example/app:1\n",
	"helm/app/values-prod.yaml":                 "image: example/app:2\n",
	"helm/app/templates/deploy.yaml":            deployment("x", "{{ .Values.image }}"),
	"helm/app/charts/sub/Chart.yaml":            "apiVersion: v2\nname: sub\nversion: 0.1.0\n", // vendored: rendered with app
	"helm/app/charts/sub/templates/deploy.yaml": deployment("sub", "busybox:1.36"),
	"deploy/chart/Chart.yaml":                   "apiVersion: v2\nname: app-stack\nversion: 1.0.0\n",
	"deploy/chart/templates/deploy.yaml":        deployment("{{ .Chart.Name }}", "alpine:3.20"),
	"k8s/base/kustomization.yaml":               "resources:\n- web.yaml\n",
	"k8s/base/web.yaml":                         deployment("web", "example/web:1"),
	"k8s/overlays/prod/kustomization.yaml":      "resources:\n- ../../base\nimages:\n- name: example/web\n  newTag: \"2\"\n",
	"k8s/components/debug/kustomization.yaml":   "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n",
	"manifests/jobs.yaml":                       deployment("migrate", "example/migrate:1") + "---\n" + deployment("seed", "busybox:1.36"),
	"manifests/settings.yaml":                   "level: debug\n",
	"ops/monitoring/prometheus.yml":             deployment("prometheus", "prom/prometheus:v3"),
	"ops/logging/fluent/daemon.yml":             deployment("fluent", "fluent/fluent-bit:3"),
	"ops/templates/job.yaml":                    deployment("{{ .Name }}", "busybox:1.36"),
	".github/workflows/build.yml":               "jobs:\n  b:\n    steps:\n      - run: docker build --build-arg BASE=alpine:3.20 services/base\n",
	"skaffold.yaml":                             "apiVersion: skaffold/v4beta11\nkind: Config\n",
}

// deployment is a Deployment named name running image.
func deployment(name, image string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\nspec:\n  template:\n    spec:\n" +
		"      containers:\n        - name: app\n          image: " + image + "\n"
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func TestScan(t *testing.T) {
	root := writeTree(t, fixture)
	r, err := Scan(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	var compose []string
	for _, f := range r.Compose {
		compose = append(compose, f.Path+"@"+f.Vendored)
	}
	var kustomizations []string
	for _, k := range r.Kustomizations {
		kustomizations = append(kustomizations, k.Dir+" "+k.Kind)
	}
	for _, tt := range []struct {
		what      string
		got, want any
	}{
		{"compose", compose, []string{"deploy/compose.override.yml@", "deploy/compose.yaml@", "docker-compose.override.yml@",
			"docker-compose.yml@", "third_party/lib/docker-compose.yml@third_party", "tools/docker-compose.override.yml@"}},
		{"dockerfiles", r.Dockerfiles, []string{"docs/Dockerfile-guide.md", "services/api/Dockerfile", "services/api/Dockerfile.fragment",
			"services/base/Dockerfile", "services/web/Dockerfile", "services/web/Dockerfile.dev", "services/worker/worker.Dockerfile"}},
		{"vendored dockerfiles", r.VendoredDockerfiles, []string{"third_party/lib/Dockerfile", "vendor/github.com/x/y/Dockerfile"}},
		{"leftovers", r.Leftovers, []string{"docker-compose.yml.bak", "services/api/Dockerfile.orig", "services/api/Dockerfile.tpl",
			"services/api/compose.override.yaml.backup"}},
		{"skipped", r.SkippedDirs, []string{".git", "services/web/node_modules"}},
		{"vendored", r.Vendored, []Vendored{{Dir: "third_party", Why: "under third_party/"}, {Dir: "vendor", Why: "under vendor/"}}},
		{"charts", r.Charts, []Chart{{Dir: "deploy/chart", Name: "app-stack"},
			{Dir: "helm/app", Name: "App_Stack", Values: []string{"helm/app/values-prod.yaml"}}}},
		{"kustomizations", kustomizations, []string{"k8s/base Kustomization", "k8s/components/debug Component", "k8s/overlays/prod Kustomization"}},
		{"manifests", r.Manifests, []string{"manifests/jobs.yaml", "ops/logging/fluent/daemon.yml", "ops/monitoring/prometheus.yml"}},
		{"ci", r.CIFiles, []string{".github/workflows/build.yml"}},
		{"left out", r.LeftOut, []LeftOut{
			{Path: ".github/workflows/build.yml", Reason: "CI configuration: the images its jobs run are not the deployment's (read for the build arguments it passes)"},
			{Path: "ops/templates/job.yaml", Reason: "a template ({{...}} placeholders): render it with a helm block if it is a chart's, or render it first"},
			{Path: "skaffold.yaml", Reason: "skaffold's configuration (skaffold/v4beta11), not objects for a cluster"}}},
	} {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.what, tt.got, tt.want)
		}
	}
}

func TestManifestGlobs(t *testing.T) {
	for _, tt := range []struct {
		name      string
		yaml      []string // every YAML file of the tree
		closed    []string
		manifests []string
		want      []string
	}{
		{"a directory of manifests", []string{"compose.yaml", "k8s/a.yaml", "k8s/b.yaml"}, nil, []string{"k8s/a.yaml", "k8s/b.yaml"}, []string{"k8s/*.yaml"}},
		{"nested, both extensions", []string{"compose.yaml", "ops/a/x.yml", "ops/b/c/y.yaml"}, nil, []string{"ops/a/x.yml", "ops/b/c/y.yaml"},
			[]string{"ops/**/*.{yaml,yml}"}},
		{"the root itself", []string{"a.yaml"}, nil, []string{"a.yaml"}, []string{"*.yaml"}},
		{"a directory with other YAML", []string{"m/a.yaml", "m/b.yaml", "m/settings.yaml"}, nil, []string{"m/a.yaml", "m/b.yaml"},
			[]string{"m/a.yaml", "m/b.yaml"}},
		{"other YAML of another extension", []string{"m/a.yaml", "m/config.yml"}, nil, []string{"m/a.yaml"}, []string{"m/*.yaml"}},
		{"a chart below: the glob stops above it", []string{"deploy/a.yaml", "deploy/chart/Chart.yaml", "deploy/chart/values.yaml"},
			[]string{"deploy/chart"}, []string{"deploy/a.yaml"}, []string{"deploy/*.yaml"}},
		{"nothing", []string{"a.yaml"}, nil, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := tree{subdirs: map[string][]string{}, yaml: map[string][]string{}, closed: map[string]bool{}}
			dirs := map[string]bool{}
			for _, f := range tt.yaml {
				tr.yaml[filepath.Dir(f)] = append(tr.yaml[filepath.Dir(f)], f)
				for d := filepath.Dir(f); d != "."; d = filepath.Dir(d) {
					dirs[d] = true
				}
			}
			for _, d := range sortedKeys(dirs) {
				tr.subdirs[filepath.Dir(d)] = append(tr.subdirs[filepath.Dir(d)], d)
			}
			for _, c := range tt.closed {
				tr.closed[c] = true
			}
			if got := manifestGlobs(tr, tt.manifests); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("manifestGlobs = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOverlays(t *testing.T) {
	isDir := func(p string) bool {
		return p == "base" || p == "overlays/dev" || p == "overlays/prod" || p == "components/x"
	}
	read := func(dir, text string) Kustomization {
		k, err := readKustomization(dir, []byte(text), isDir)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ks := []Kustomization{
		read("base", "resources: [web.yaml]\n"),
		read("components/x", "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"),
		read("overlays/dev", "resources:\n- ../../base\ncomponents:\n- ../../components/x\npatches:\n- path: p.yaml\n"),
		read("overlays/prod", "resources:\n- ../../base\n- github.com/org/repo//deploy?ref=v1\n"),
		read("overlays/up", "resources:\n- ../../../elsewhere\n"),
	}
	var dirs []string
	byDir := map[string]Kustomization{}
	for _, k := range ks {
		byDir[k.Dir] = k
	}
	for _, k := range overlays(ks) {
		dirs = append(dirs, k.Dir+": "+kustomizeLeftOut(k, byDir))
	}
	want := []string{"overlays/dev: ",
		`overlays/prod: overlays/prod/kustomization names "github.com/org/repo//deploy?ref=v1", which kustomize would fetch: discovery is offline; copy it into the repository (kustomize localize does) and refer to the copy`,
		`overlays/up: overlays/up/kustomization names "../../../elsewhere", outside the repository`}
	if !reflect.DeepEqual(dirs, want) {
		t.Errorf("overlays:\n got %q\nwant %q", dirs, want)
	}
	if got := reachedFrom("overlays/dev", byDir); !reflect.DeepEqual(got, []string{"base", "components/x"}) {
		t.Errorf("reachedFrom = %v", got)
	}
	if !covered("overlays/dev/p.yaml", ks) || !covered("base/web.yaml", ks) || covered("manifests/a.yaml", ks) {
		t.Error("covered")
	}
}

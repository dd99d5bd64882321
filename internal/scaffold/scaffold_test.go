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

// broken is a Dockerfile discovery refuses (BuildKit rejects a variable in
// COPY --from): the fixture's templates, backups and other projects' files
// hold it, so that discovery fails if the generated config scans them.
const broken = "FROM {{ .Base }}\nCOPY --from=$X /a /b\n"

// fixture is a repository as init meets it.
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
	"services/worker/worker.Dockerfile":         "FROM python:3.13-slim\n",
	"deploy/compose.yaml":                       "services:\n  edge:\n    image: nginx:1.27\n",
	"deploy/docker-compose.yml":                 "services:\n  ignored:\n    image: nginx:1.25\n", // compose prefers compose.yaml
	"deploy/compose.override.yml":               "services:\n  edge:\n    ports: ['80:80']\n",
	"tools/docker-compose.override.yml":         "services: {}\n", // an override alone is no project
	".git/Dockerfile":                           broken,
	"vendor/github.com/x/y/Dockerfile":          broken,
	"docs/Dockerfile-guide.md":                  "not a Dockerfile\n",
	"services/web/src/notes.bak":                "not a leftover of a Dockerfile or compose file\n",
	"services/web/docker-compose.yml.swp":       "not a compose file\n",
	"services/api/compose.override.yaml.backup": "services: {}\n",
	"helm/app/Chart.yaml":                       "apiVersion: v2\nname: App_Stack\nversion: 0.1.0\n",
	"helm/app/values.yaml":                      "image: example/app:1\n",
	"helm/app/values-prod.yaml":                 "image: example/app:2\n",
	"helm/app/templates/deploy.yaml":            deployment("{{ .Values.image }}"),
	"helm/app/charts/sub/Chart.yaml":            "apiVersion: v2\nname: sub\nversion: 0.1.0\n", // vendored: rendered with app
	"helm/app/charts/sub/templates/deploy.yaml": deployment("busybox:1.36"),
	"deploy/chart/Chart.yaml":                   "apiVersion: v2\nname: app-stack\nversion: 1.0.0\n",
	"deploy/chart/templates/deploy.yaml":        deployment("alpine:3.20"),
}

// deployment is a chart template of a Deployment running image.
func deployment(image string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Chart.Name }}\nspec:\n  template:\n    spec:\n" +
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

func TestScan(t *testing.T) {
	root := writeTree(t, fixture)
	got, err := Scan(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	want := &Repo{
		Compose: []ComposeProject{
			{Dir: ".", Files: []string{"docker-compose.yml", "docker-compose.override.yml"}, EnvFile: ".env"},
			{Dir: "deploy", Files: []string{"deploy/compose.yaml", "deploy/compose.override.yml"}},
		},
		Dockerfiles: []string{"services/api/Dockerfile", "services/web/Dockerfile", "services/web/Dockerfile.dev",
			"services/worker/worker.Dockerfile"},
		Leftovers: []string{"docker-compose.yml.bak", "services/api/Dockerfile.orig", "services/api/Dockerfile.tpl",
			"services/api/compose.override.yaml.backup"},
		SkippedDirs: []string{".git", "services/web/node_modules", "vendor"},
		Charts: []Chart{{Dir: "deploy/chart", Name: "app-stack"},
			{Dir: "helm/app", Name: "App_Stack", Values: []string{"helm/app/values-prod.yaml"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Scan:\n got %+v\nwant %+v", got, want)
	}
	wantDiscovery := Discovery{
		Compose:     []string{"docker-compose.yml", "docker-compose.override.yml"},
		EnvFiles:    []string{".env"},
		Dockerfiles: []string{"services/**/Dockerfile*", "services/**/*.Dockerfile"},
		// vendor is not under services/: no glob reaches it.
		Exclude: []string{"**/*.backup", "**/*.bak", "**/*.orig", "**/*.tpl", "**/node_modules"},
		Others:  []ComposeProject{{Dir: "deploy", Files: []string{"deploy/compose.yaml", "deploy/compose.override.yml"}}},
		Helm: []HelmRelease{{Name: "app-stack", Chart: "deploy/chart"},
			{Name: "app-stack-2", Chart: "helm/app", Values: []string{"helm/app/values-prod.yaml"}}},
	}
	if d := got.Discovery(); !reflect.DeepEqual(d, wantDiscovery) {
		t.Errorf("Discovery:\n got %+v\nwant %+v", d, wantDiscovery)
	}
}

// TestInitFixture writes the config for the fixture, decodes it with
// internal/config and runs discovery with it: the compose project, the
// Dockerfiles under the glob, nothing of the templates, backups and other
// projects' code.
func TestInitFixture(t *testing.T) {
	root := writeTree(t, fixture)
	path := filepath.Join(root, "images.hcl")
	res, err := Init(context.Background(), path, "registry.example.com/team")
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != path || len(res.Repo.Dockerfiles) != 4 || len(res.Discovery.Exclude) != 5 {
		t.Errorf("Init result = %+v", res)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Next: \"imagesync lock\"", "# Other compose projects found", "#   deploy/compose.yaml, deploy/compose.override.yml",
		"covering the 4 Dockerfiles found", `# registry "docker.io" {`, `helm "app-stack-2" {`,
		`    # values = ["helm/app/values-prod.yaml"] # like helm -f, in order`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("images.hcl lacks %q:\n%s", want, text)
		}
	}
	cfg, diags := config.Load(hclparse.NewParser(), path)
	if diags.HasErrors() {
		t.Fatalf("the written images.hcl does not decode: %v\n%s", diags, text)
	}
	if len(diags) > 0 {
		t.Errorf("the written images.hcl has warnings: %v", diags)
	}
	if cfg.Target.Registry != "registry.example.com/team" || cfg.Builder.Kind != "buildx" ||
		!reflect.DeepEqual(cfg.Discover.Compose, res.Discovery.Compose) || !reflect.DeepEqual(cfg.Discover.EnvFiles, []string{".env"}) {
		t.Errorf("decoded config: %+v", cfg)
	}
	found, err := discover.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("discovery with the written images.hcl: %v\n%s", err, text)
	}
	var refs []string
	for _, img := range found.Images {
		refs = append(refs, img.Ref.String())
	}
	want := []string{"docker.io/example/app:1", "docker.io/library/alpine:3.20", "docker.io/library/busybox:1.36",
		"docker.io/library/golang:1.25", "docker.io/library/node:22", "docker.io/library/node:22-alpine",
		"docker.io/library/postgres:15-alpine", "docker.io/library/python:3.13-slim", "docker.io/library/redis:7",
		"gcr.io/distroless/static:latest"}
	if strings.Join(refs, " ") != strings.Join(want, " ") {
		t.Errorf("discovered %v\nwant %v", refs, want)
	}
	if len(found.Builds) != 1 || found.Builds[0].Ref.String() != "docker.io/example/web:1" {
		t.Errorf("builds = %+v", found.Builds)
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
	if _, err := Init(context.Background(), path, "localhost:5000"); err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(path)
	for _, want := range []string{"# compose = [\"docker-compose.yml\"]", "# dockerfiles = [\"**/Dockerfile*\"]"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("images.hcl lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(string(text), "exclude") || strings.Contains(string(text), "env_files") {
		t.Errorf("images.hcl of an empty repository:\n%s", text)
	}
	if _, diags := config.Load(hclparse.NewParser(), path); diags.HasErrors() {
		t.Fatalf("does not decode: %v\n%s", diags, text)
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
	got := helmReleases([]Chart{{Dir: "a", Name: "web"}, {Dir: "b", Name: "Web"}, {Dir: "c/x_y"}, {Dir: "d", Name: "__"},
		{Dir: "e", Name: long}, {Dir: "f", Name: long}})
	var names []string
	for _, h := range got {
		names = append(names, h.Name)
	}
	want := []string{"web", "web-2", "x-y", "release", long[:53], long[:51] + "-2"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("names = %v, want %v", names, want)
	}
	for _, n := range names {
		if err := chartutil.ValidateReleaseName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
}

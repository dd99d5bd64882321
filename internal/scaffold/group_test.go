package scaffold

import (
	"reflect"
	"strings"
	"testing"
)

// composeFiles parses compose files given as path -> YAML.
func composeFiles(t *testing.T, files map[string]string) []ComposeFile {
	t.Helper()
	var out []ComposeFile
	for _, p := range sortedKeys(files) {
		f, ok, err := parseCompose(p, []byte(files[p]))
		if err != nil || !ok {
			t.Fatalf("parseCompose(%s) = %v, %v", p, ok, err)
		}
		out = append(out, f)
	}
	return out
}

// TestComposeProjects holds the grouping rule (README "What init
// writes"): each case is a folder layout seen in real repositories.
func TestComposeProjects(t *testing.T) {
	const (
		app   = "services:\n  web:\n    build: web\n  db:\n    image: postgres:16\n"
		adds  = "services:\n  prometheus:\n    image: prom/prometheus\n"
		patch = "services:\n  web:\n    environment: [A=1]\n"
	)
	for _, tt := range []struct {
		name  string
		files map[string]string
		env   []string
		want  []ComposeProject
		left  []string // "path: reason prefix"
	}{{
		name: "layers that add services or change them join the base, complete ones first",
		files: map[string]string{"compose.yaml": app, "compose.override.yaml": patch, "compose.observability.yaml": adds,
			"compose.full.yaml": patch, "compose.tests.yaml": "services:\n  e2e:\n    build: tests\n    depends_on: [web]\n"},
		env: []string{".env"},
		want: []ComposeProject{{Name: "app", Files: []string{"compose.yaml", "compose.override.yaml", "compose.observability.yaml",
			"compose.tests.yaml", "compose.full.yaml"}, EnvFiles: []string{".env"}, base: true, own: "compose.yaml",
			Why: "compose.yaml with the files layered on it (they add services, or change how those of compose.yaml run)"}},
	}, {
		name: "a file that defines every service again, with other images, is a stack of its own",
		files: map[string]string{"docker-compose.yml": app,
			"docker-compose.images.yml": "services:\n  web:\n    image: example/web\n  db:\n    image: postgres:16\n"},
		want: []ComposeProject{
			{Name: "app", Files: []string{"docker-compose.yml"}, base: true, own: "docker-compose.yml", Why: "docker-compose.yml: the folder's default compose file"},
			{Name: "app-images", Files: []string{"docker-compose.images.yml"}, own: "docker-compose.images.yml",
				Why: "docker-compose.images.yml: a stack of its own (it defines every service of docker-compose.yml again, with another image or build for web)"}},
	}, {
		name: "a file that runs published images for the base's builds, with its other services, is a stack of its own",
		files: map[string]string{"docker-compose.yml": app + "  seed:\n    build: seed\n    profiles: [seed]\n",
			"docker-stack.yml": "services:\n  web:\n    image: example/web\n    deploy: {replicas: 2}\n  db:\n    image: postgres:16\n"},
		want: []ComposeProject{
			{Name: "app", Files: []string{"docker-compose.yml"}, base: true, own: "docker-compose.yml", Why: "docker-compose.yml: the folder's default compose file"},
			{Name: "app-docker-stack", Files: []string{"docker-stack.yml"}, own: "docker-stack.yml",
				Why: "docker-stack.yml: a stack of its own (it runs images for web, which docker-compose.yml builds, and the rest of its stack)"}},
	}, {
		name: "a file that changes what some services run is layered on the base in a project of its own",
		files: map[string]string{"compose.yaml": app, "compose.prod.yaml": "services:\n  web:\n    image: registry.example.com/web:prod\n",
			"compose.test.yaml": "services:\n  web:\n    build: {context: web, target: test}\n  sut:\n    build: tests\n"},
		want: []ComposeProject{
			{Name: "app", Files: []string{"compose.yaml"}, base: true, own: "compose.yaml", Why: "compose.yaml: the folder's default compose file"},
			{Name: "app-prod", Files: []string{"compose.yaml", "compose.prod.yaml"}, own: "compose.prod.yaml",
				Why: "compose.prod.yaml layered on compose.yaml in a project of its own (it changes what web of compose.yaml runs)"},
			{Name: "app-test", Files: []string{"compose.yaml", "compose.test.yaml"}, own: "compose.test.yaml",
				Why: "compose.test.yaml layered on compose.yaml in a project of its own (it changes what web of compose.yaml runs)"}},
	}, {
		name: "a test stack in a subfolder, relative to its own folder",
		files: map[string]string{"docker-compose.yml": app,
			"result/docker-compose.test.yml": "services:\n  sut:\n    build: ./tests\n  result:\n    build: .\n"},
		want: []ComposeProject{
			{Name: "app", Files: []string{"docker-compose.yml"}, base: true, own: "docker-compose.yml", Why: "docker-compose.yml: the folder's default compose file"},
			{Name: "result-test", Files: []string{"result/docker-compose.test.yml"}, own: "result/docker-compose.test.yml",
				Why: "result/docker-compose.test.yml: a stack of its own (its folder has no compose.yaml or docker-compose.yml)"}},
	}, {
		name: "layers that add one service differently are alternatives",
		files: map[string]string{"compose.yaml": app, "compose.a.yaml": adds, "compose.b.yaml": "services:\n  prometheus:\n    image: prom/prometheus:v2\n",
			"compose.cache.yaml": "services:\n  cache:\n    image: redis\n"},
		want: []ComposeProject{
			{Name: "app", Files: []string{"compose.yaml", "compose.cache.yaml"}, base: true, own: "compose.yaml",
				Why: "compose.yaml with the files layered on it (they add services, or change how those of compose.yaml run)"},
			{Name: "app-a", Files: []string{"compose.yaml", "compose.cache.yaml", "compose.a.yaml"}, own: "compose.a.yaml",
				Why: "compose.a.yaml layered on compose.yaml in a project of its own (it redefines prometheus, as another layer does)"},
			{Name: "app-b", Files: []string{"compose.yaml", "compose.cache.yaml", "compose.b.yaml"}, own: "compose.b.yaml",
				Why: "compose.b.yaml layered on compose.yaml in a project of its own (it redefines prometheus, as another layer does)"}},
	}, {
		name: "a partial file is layered on the stack its name points at",
		files: map[string]string{"docker-compose.yml": app,
			"docker-compose.windows.yml":          "services:\n  web:\n    image: example/web:nanoserver\n  db:\n    image: mssql\n",
			"docker-compose.override.windows.yml": "services:\n  web:\n    isolation: hyperv\n"},
		want: []ComposeProject{
			{Name: "app", Files: []string{"docker-compose.yml"}, base: true, own: "docker-compose.yml", Why: "docker-compose.yml: the folder's default compose file"},
			{Name: "app-windows", Files: []string{"docker-compose.windows.yml", "docker-compose.override.windows.yml"}, own: "docker-compose.windows.yml",
				Why: "docker-compose.windows.yml: a stack of its own (it defines every service of docker-compose.yml again, with another image or build for db and web), with the files that change its services layered on it"}},
	}, {
		name:  "a file that cannot run alone and has nothing to layer on is left out",
		files: map[string]string{"ci/basic/compose.yaml": patch, "ci/prod.yml": "services:\n  web:\n    image: x\n  api:\n    ports: [80]\n"},
		left: []string{"ci/basic/compose.yaml: its service web has neither image nor build",
			"ci/prod.yml: its service api has neither image nor build"},
	}, {
		name: "a file another includes is part of that project; an empty one is said so; name: names the project",
		files: map[string]string{"compose.yaml": "name: shop\ninclude:\n  - infra/compose.yaml\nservices:\n  web:\n    build: .\n",
			"infra/compose.yaml": "services:\n  db:\n    image: postgres\n", "compose.extras.yaml": "# fill in\n"},
		want: []ComposeProject{{Name: "shop", Files: []string{"compose.yaml"}, base: true, own: "compose.yaml", Why: "compose.yaml: the folder's default compose file"}},
		left: []string{"compose.extras.yaml: a compose file that defines no service", "infra/compose.yaml: part of compose.yaml's project"},
	}, {
		name:  "two projects with one name: the second one's label is made unique",
		files: map[string]string{"a/compose.yaml": "name: x\n" + app, "b/compose.yaml": "name: x\n" + app},
		want: []ComposeProject{{Name: "x", Files: []string{"a/compose.yaml"}, base: true, own: "a/compose.yaml", Why: "a/compose.yaml: the folder's default compose file"},
			{Name: "x-2", Files: []string{"b/compose.yaml"}, base: true, own: "b/compose.yaml", Why: "b/compose.yaml: the folder's default compose file"}},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			got, left := composeProjects(composeFiles(t, tt.files), tt.env)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("projects:\n got %+v\nwant %+v", got, tt.want)
			}
			if len(left) != len(tt.left) {
				t.Fatalf("left out %v, want %v", left, tt.left)
			}
			for i, l := range left {
				if !strings.HasPrefix(l.String(), tt.left[i]) {
					t.Errorf("left out %q, want %q...", l, tt.left[i])
				}
			}
		})
	}
}

func TestProjectName(t *testing.T) {
	for _, tt := range []struct{ dir, file, compose, want string }{
		{".", "", "", "app"},
		{".", "docker-compose.images.yml", "", "app-images"},
		{".", "docker-stack.yml", "", "app-docker-stack"},
		{"deploy/Compose", "compose.test.yaml", "", "deploy-compose-test"},
		{"x", "", "My_Stack", "my_stack"},
		{".", "", "${NAME}", "app"}, // parseCompose drops an interpolated name: never reaches here as such
	} {
		compose := tt.compose
		if strings.Contains(compose, "$") {
			compose = ""
		}
		if got := projectName(tt.dir, tt.file, compose); got != tt.want {
			t.Errorf("projectName(%q, %q, %q) = %q, want %q", tt.dir, tt.file, tt.compose, got, tt.want)
		}
	}
}

func TestParseCompose(t *testing.T) {
	f, ok, err := parseCompose("deploy/compose.yaml", []byte(`name: ${PROJECT:-x}
x-build: &build
  context: .
  args:
    BASE: alpine:3.20
    TAG: ${TAG}
services:
  web:
    build:
      <<: *build
      dockerfile: web.Dockerfile
  api:
    extends:
      file: ../common.yml
      service: api
  db:
    image: postgres
    build:
      context: db
      args: [PG=16, EMPTY=]
include:
  - path: [infra/a.yaml, infra/b.yaml]
`))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	want := ComposeFile{Path: "deploy/compose.yaml", Services: map[string]ComposeService{
		"web": {Build: ". web.Dockerfile", Args: map[string]string{"BASE": "alpine:3.20"}},
		"api": {Extends: true},
		"db":  {Image: "postgres", Build: "db", Args: map[string]string{"PG": "16"}},
	}, Uses: []string{"common.yml", "deploy/infra/a.yaml", "deploy/infra/b.yaml"}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("parseCompose:\n got %+v\nwant %+v", f, want)
	}
	for _, notCompose := range []string{"apiVersion: v1\nkind: Service\nservices: {}\n", "services: [a, b]\n", "jobs: {}\n"} {
		if _, ok, err := parseCompose("x.yaml", []byte(notCompose)); ok || err != nil {
			t.Errorf("parseCompose(%q) = %v, %v; want not a compose file", notCompose, ok, err)
		}
	}
	if _, ok, err := parseCompose("compose.yaml", []byte("services:\n  a: {image: x}\n  a: {image: y}\n")); ok || err == nil {
		t.Error("a duplicate key read without error")
	}
}

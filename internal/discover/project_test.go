package discover

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// votingRepo is a stack of layered compose files (the base and an
// observability layer, one project), a test stack in a subfolder whose
// build contexts are relative to its own folder, and a minimal stack with
// profiles.
var votingRepo = map[string]string{
	"compose.yaml": `services:
  vote:
    build: ./vote
  db:
    image: postgres:${PG:-16}
`,
	"compose.observability.yaml": `services:
  grafana:
    image: grafana/grafana:11.0.0
  vote:
    image: voting/vote:${TAG}
`,
	".env":            "TAG=v1\n",
	"vote/Dockerfile": "FROM python:3.12-slim\n",
	"result/tests/docker-compose.test.yml": `services:
  sut:
    build: .
  vote:
    build: ../../vote
  db:
    image: postgres:15
`,
	"result/tests/Dockerfile": "FROM node:22-alpine\n",
	"result/tests/.env":       "PG=15\n",
	"minimal/compose.yaml": `name: mini
services:
  app:
    image: nginx:1.27
  debug:
    image: busybox:1.36
    profiles: [debug]
  tools:
    image: alpine:3.20
    profiles: [tools]
`,
}

const votingConfig = `discover {
  compose_project "voting" {
    files = ["compose.yaml", "compose.observability.yaml"]
  }
  compose_project "result-test" {
    files = ["result/tests/docker-compose.test.yml"]
  }
  compose_project "minimal" {
    files    = ["minimal/compose.yaml"]
    profiles = ["tools"]
  }
}
`

// TestRunComposeProjects: each compose_project block is its own project,
// loaded with its own folder (contexts, .env), its own name (the label,
// unless name: says otherwise) and its own profiles; with several, the
// locators and the services builds go by say which project.
func TestRunComposeProjects(t *testing.T) {
	root := newRepo(t, votingRepo)
	res, err := Run(context.Background(), parseConfig(t, root, votingConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"image docker.io/grafana/grafana:11.0.0 <- compose:voting:compose.observability.yaml#services.grafana.image",
		"image docker.io/library/alpine:3.20 <- compose:minimal:minimal/compose.yaml#services.tools.image",
		"image docker.io/library/nginx:1.27 <- compose:minimal:minimal/compose.yaml#services.app.image",
		"image docker.io/library/node:22-alpine <- result/tests/Dockerfile#FROM 0",
		"image docker.io/library/postgres:15 <- compose:result-test:result/tests/docker-compose.test.yml#services.db.image",
		"image docker.io/library/postgres:16 <- compose:voting:compose.yaml#services.db.image",
		"image docker.io/library/python:3.12-slim <- vote/Dockerfile#FROM 0",
		"build docker.io/library/result-test-sut:latest service=result-test/sut context=result/tests dockerfile=result/tests/Dockerfile" +
			" bases=docker.io/library/node:22-alpine <- compose:result-test:result/tests/docker-compose.test.yml#services.sut.build",
		"build docker.io/library/result-test-vote:latest service=result-test/vote context=vote dockerfile=vote/Dockerfile" +
			" bases=docker.io/library/python:3.12-slim <- compose:result-test:result/tests/docker-compose.test.yml#services.vote.build",
		"build docker.io/voting/vote:v1 service=voting/vote context=vote dockerfile=vote/Dockerfile" +
			" bases=docker.io/library/python:3.12-slim <- compose:voting:compose.yaml#services.vote.build",
	}
	if got := render(res); !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The same tree under another folder name gives the same result.
	other := filepath.Join(t.TempDir(), "elsewhere")
	writeFiles(t, other, slices.Sorted(maps.Keys(votingRepo)), votingRepo)
	again, err := Run(context.Background(), parseConfig(t, other, votingConfig))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, again) {
		t.Errorf("another folder name changes the result:\n%s", strings.Join(render(again), "\n"))
	}
}

// TestProjectNames: the name a project's default-named builds go by never
// depends on the folder the repository is cloned into.
func TestProjectNames(t *testing.T) {
	tests := []struct {
		name, config string
		files        map[string]string
		want         string // the build's reference
	}{{
		name:   "compose next to images.hcl: default",
		config: `discover { compose = ["compose.yaml"] }`,
		files:  map[string]string{"compose.yaml": "services:\n  web:\n    build: .\n"},
		want:   "docker.io/library/default-web:latest",
	}, {
		name:   "compose's default file names: default",
		config: ``,
		files:  map[string]string{"docker-compose.yml": "services:\n  web:\n    build: .\n"},
		want:   "docker.io/library/default-web:latest",
	}, {
		name:   "compose in a folder of the repository: that folder, as named in the repository",
		config: `discover { compose = ["deploy/Stack_1/compose.yaml"] }`,
		files:  map[string]string{"deploy/Stack_1/compose.yaml": "services:\n  web:\n    build: .\n"},
		want:   "docker.io/library/stack_1-web:latest",
	}, {
		name:   "name: wins",
		config: `discover { compose = ["compose.yaml"] }`,
		files:  map[string]string{"compose.yaml": "name: shop\nservices:\n  web:\n    build: .\n"},
		want:   "docker.io/library/shop-web:latest",
	}, {
		name:   "COMPOSE_PROJECT_NAME wins over name:, as in docker compose",
		config: `discover { env = { COMPOSE_PROJECT_NAME = "store" } }`,
		files:  map[string]string{"compose.yaml": "name: shop\nservices:\n  web:\n    build: .\n"},
		want:   "docker.io/library/store-web:latest",
	}, {
		name:   "a compose_project's label",
		config: "discover {\n  compose_project \"front\" {\n    files = [\"compose.yaml\"]\n  }\n}\n",
		files:  map[string]string{"compose.yaml": "services:\n  web:\n    build: .\n"},
		want:   "docker.io/library/front-web:latest",
	}, {
		name:   "name: wins over a compose_project's label",
		config: "discover {\n  compose_project \"front\" {\n    files = [\"compose.yaml\"]\n  }\n}\n",
		files:  map[string]string{"compose.yaml": "name: shop\nservices:\n  web:\n    build: .\n"},
		want:   "docker.io/library/shop-web:latest",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, folder := range []string{"shop", "checkout-2"} {
				root := filepath.Join(t.TempDir(), folder)
				files := map[string]string{"Dockerfile": "FROM alpine:3.20\n"}
				for k, v := range tt.files {
					files[k] = v
					files[filepath.ToSlash(filepath.Join(filepath.Dir(k), "Dockerfile"))] = "FROM alpine:3.20\n"
				}
				writeFiles(t, root, slices.Sorted(maps.Keys(files)), files)
				res, err := Run(context.Background(), parseConfig(t, root, tt.config))
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Builds) != 1 {
					t.Fatalf("builds: %v", render(res))
				}
				got = append(got, res.Builds[0].Ref.String())
			}
			if got[0] != tt.want || got[1] != tt.want {
				t.Errorf("builds named %v, want %s in both clones", got, tt.want)
			}
		})
	}
}

// TestComposeProjectSettings: project_directory and env_files of a block.
func TestComposeProjectSettings(t *testing.T) {
	root := newRepo(t, map[string]string{
		"ops/compose.yaml":   "services:\n  api:\n    image: api:${TAG}\n    build: ./api\n",
		"ops/.env":           "TAG=from-ops-dot-env\n",
		".env":               "TAG=from-root\n",
		"ops/prod.env":       "TAG=prod\n",
		"api/Dockerfile":     "FROM golang:1.25\n",
		"ops/api/Dockerfile": "FROM golang:1.24\n",
	})
	tests := []struct{ block, want string }{
		{`files = ["ops/compose.yaml"]`,
			"build docker.io/library/api:from-ops-dot-env service=api context=ops/api dockerfile=ops/api/Dockerfile"},
		{"files = [\"ops/compose.yaml\"]\n    project_directory = \".\"\n    env_files = [\"ops/prod.env\"]",
			"build docker.io/library/api:prod service=api context=api dockerfile=api/Dockerfile"},
		{"files = [\"ops/compose.yaml\"]\n    project_directory = \".\"",
			"build docker.io/library/api:from-root service=api context=api dockerfile=api/Dockerfile"},
	}
	for _, tt := range tests {
		res, err := Run(context.Background(), parseConfig(t, root, "discover {\n  compose_project \"ops\" {\n    "+tt.block+"\n  }\n}\n"))
		if err != nil {
			t.Fatal(err)
		}
		got := render(res)
		if !strings.HasPrefix(got[len(got)-1], tt.want) {
			t.Errorf("%s:\ngot %s\nwant %s...", tt.block, got[len(got)-1], tt.want)
		}
	}
}

// TestComposeServiceWithoutImageOrBuild: docker compose refuses a service
// with neither image nor build (an override file listed alone); so does
// discovery, naming the file and the service, where it used to drop the
// service silently.
func TestComposeServiceWithoutImageOrBuild(t *testing.T) {
	root := newRepo(t, map[string]string{
		"compose.yaml":          "services:\n  web:\n    image: nginx:1.27\n",
		"compose.override.yaml": "services:\n  web:\n    environment: {A: b}\n  worker:\n    command: run\n  model:\n    provider: {type: model}\n",
	})
	_, err := Run(context.Background(), parseConfig(t, root, `discover { compose = ["compose.override.yaml"] }`))
	if err == nil {
		t.Fatal("an override file alone is accepted")
	}
	for _, want := range []string{
		`load compose compose.override.yaml: service "web" has neither an image nor a build context specified`,
		`load compose compose.override.yaml: service "worker" has neither an image nor a build context specified`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), `"model"`) {
		t.Errorf("a provider service needs no image: %v", err)
	}
	// Layered over the base, the same file is fine.
	if _, err := Run(context.Background(), parseConfig(t, root, `discover { compose = ["compose.yaml", "compose.override.yaml"] }`)); err == nil ||
		strings.Contains(err.Error(), `"web"`) || !strings.Contains(err.Error(), `load compose compose.override.yaml: service "worker"`) {
		t.Errorf("layered: %v", err)
	}
}

// TestComposeProjectErrorsNameTheProject: with several projects, a problem
// says which one it is in.
func TestComposeProjectErrorsNameTheProject(t *testing.T) {
	root := newRepo(t, map[string]string{
		"a/compose.yaml": "services:\n  web:\n    image: nginx:${TAG}\n",
		"b/compose.yaml": "services:\n  web:\n    image: nginx:1.27\n",
	})
	_, err := Run(context.Background(), parseConfig(t, root,
		"discover {\n  compose_project \"a\" {\n    files = [\"a/compose.yaml\"]\n  }\n  compose_project \"b\" {\n    files = [\"b/compose.yaml\", \"missing.yaml\"]\n  }\n}\n"))
	if err == nil || !strings.Contains(err.Error(), `compose project a: load compose a/compose.yaml: service "web": image "nginx:${TAG}": variable TAG is not set`) ||
		!strings.Contains(err.Error(), "compose project b: ") {
		t.Errorf("error = %v", err)
	}
	if _, statErr := os.Stat(filepath.Join(root, "missing.yaml")); statErr == nil {
		t.Fatal("fixture")
	}
}

package discover

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestRunSharedBuildsThatDiffer: services may share an image name only with
// one build definition; otherwise the error names both services and the
// field that differs.
func TestRunSharedBuildsThatDiffer(t *testing.T) {
	tests := []struct {
		field, b string // the field, and service b's build section
	}{
		{"build.context", "context: ./other"},
		{"build.dockerfile", "context: ./app\n      dockerfile: Dockerfile.alt"},
		{"build.args", "context: ./app\n      args: {ROLE: minion}"},
		{"build.target", "context: ./app\n      target: debug"},
		{"build.platforms", "context: ./app\n      args: {ROLE: master}\n      platforms: [linux/arm64]"},
		{"build.additional_contexts", "context: ./app\n      args: {ROLE: master}\n      additional_contexts: {base: docker-image://alpine:3.20}"},
		{"build.dockerfile_inline", "context: ./app\n      dockerfile_inline: FROM alpine"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			root := newRepo(t, map[string]string{
				cy: "services:\n  a:\n    image: app:1\n    build:\n      context: ./app\n      args: {ROLE: master}\n" +
					"  b:\n    image: app:1\n    build:\n      " + tt.b + "\n",
				"app/Dockerfile":     "FROM alpine\n",
				"app/Dockerfile.alt": "FROM alpine\n",
				"other/Dockerfile":   "FROM alpine\n",
			})
			_, err := Run(context.Background(), parseConfig(t, root, ""))
			want := "compose.yaml#services.b.build: services a and b both build docker.io/library/app:1 from different build definitions: " + tt.field + " is "
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want one containing %q", err, want)
			}
		})
	}
}

// TestRunCollectsEveryError: one run reports every problem of the
// repository, in a fixed order, each naming its place.
func TestRunCollectsEveryError(t *testing.T) {
	root := newRepo(t, map[string]string{
		cy: `
services:
  api:
    image: api:1
    build: ./api
    volumes:
      - ${CGROUP_MOUNT}
  db:
    image: postgres:${PG_TAG}
  tpl:
    image: "{{REGISTRY}}/tpl:1"
  a:
    image: app:1
    build: ./app
  b:
    image: app:1
    build: {context: ./app, target: debug}
`,
		"api/Dockerfile":             "FROM golang:1.25\n",
		"app/Dockerfile":             "FROM alpine AS debug\nFROM alpine\n",
		"docker/Dockerfile.tpl":      "# rendered by deploy.sh\nFROM {{BASE_IMAGE}}\n",
		"docker/fragment.Dockerfile": "RUN apt-get update\n",
		"docker/ok.Dockerfile":       "FROM alpine:3.20\n",
	})
	cfg := parseConfig(t, root, `discover {
  dockerfiles = ["docker/*"]
  dockerfile_targets = {
    "docker/gone.Dockerfile" = "x"
    "api/Dockerfile"         = "y"
  }
}
`)
	res, err := Run(context.Background(), cfg)
	var errs Errors
	if !errors.As(err, &errs) || res != nil {
		t.Fatalf("got %v, %v; want Errors and no result", res, err)
	}
	want := []string{
		`load compose compose.yaml: service "db": image "postgres:${PG_TAG}": variable PG_TAG is not set`,
		`compose.yaml#services.b.build: services a and b both build docker.io/library/app:1 from different build definitions: build.target is "" for a and "debug" for b`,
		`compose.yaml#services.tpl.image: service tpl: invalid image reference "{{REGISTRY}}/tpl:1": invalid reference format (` + composeTemplateHint + ")",
		"docker/Dockerfile.tpl:2: FROM {{BASE_IMAGE}}: invalid image reference",
		"docker/fragment.Dockerfile: no FROM instruction",
		`images.hcl:8,5: discover.dockerfile_targets["api/Dockerfile"]: compose builds it for service api, whose build.target decides`,
		`images.hcl:7,5: discover.dockerfile_targets["docker/gone.Dockerfile"]: no Dockerfile matched by discover.dockerfiles`,
	}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want one containing %q", i, errs[i], w)
		}
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "discovery found 7 problems:\n  - load compose compose.yaml: ") || strings.Count(msg, "\n  - ") != 7 {
		t.Errorf("rendered as:\n%s", msg)
	}
}

// TestRunDockerfileTargets: a Dockerfile no compose service builds counts
// every stage, unless discover.dockerfile_targets names its target.
func TestRunDockerfileTargets(t *testing.T) {
	files := map[string]string{
		"ci/Dockerfile": "FROM golang:1.25 AS build\nFROM build AS test\nRUN --mount=from=postgres:16,target=/pg true\n" +
			"FROM alpine:3.20 AS release\nCOPY --from=build /out /out\n",
	}
	tests := []struct {
		name, config string
		want         []string
		wantErr      string
	}{{
		name:   "every stage",
		config: `discover { dockerfiles = ["ci/*"] }`,
		want: []string{
			"image docker.io/library/alpine:3.20 <- ci/Dockerfile#FROM release",
			"image docker.io/library/golang:1.25 <- ci/Dockerfile#FROM build",
			"image docker.io/library/postgres:16 <- ci/Dockerfile#RUN --mount",
		},
	}, {
		name:   "the stages test reaches",
		config: "discover {\n  dockerfiles = [\"ci/*\"]\n  dockerfile_targets = { \"ci/Dockerfile\" = \"test\" }\n}\n",
		want: []string{
			"image docker.io/library/golang:1.25 <- ci/Dockerfile#FROM build",
			"image docker.io/library/postgres:16 <- ci/Dockerfile#RUN --mount",
		},
	}, {
		name:    "a target the file lacks",
		config:  "discover {\n  dockerfiles = [\"ci/*\"]\n  dockerfile_targets = { \"ci/Dockerfile\" = \"lint\" }\n}\n",
		wantErr: `ci/Dockerfile: target stage "lint" could not be found (stages: build, test, release) (target from discover.dockerfile_targets at images.hcl:6,26)`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRepo(t, files)
			res, err := Run(context.Background(), parseConfig(t, root, tt.config))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := render(res); !slices.Equal(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

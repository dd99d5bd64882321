package discover

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/config"
)

// repoName is the base name of every test repository, hence the compose
// project name when the compose file sets none.
const repoName = "shop"

// symlinkPrefix marks a fixture entry that is a symbolic link to the rest
// of the value rather than a file with that content.
const symlinkPrefix = "symlink:"

// newRepo creates <tmp>/shop, writes files into it and returns its path.
// Names are slash paths relative to the repository; "../outside/x" lands
// next to it, outside the repository.
func newRepo(t testing.TB, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), repoName)
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, slices.Sorted(maps.Keys(files)), files)
	return root
}

// writeFiles writes files in the given order, creating parent directories.
func writeFiles(t testing.TB, root string, order []string, files map[string]string) {
	t.Helper()
	for _, name := range order {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		content := files[name]
		if target, ok := strings.CutPrefix(content, symlinkPrefix); ok {
			if err := os.Symlink(filepath.FromSlash(target), p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// parseConfig decodes images.hcl source (a target block is prepended) for
// the repository at root.
func parseConfig(t testing.TB, root, body string) *config.Config {
	t.Helper()
	src := "target {\n  registry = \"registry.example.com/team\"\n}\n" + body
	cfg, diags := config.Parse(hclparse.NewParser(), config.DefaultFilename, root, []byte(src))
	if diags.HasErrors() {
		t.Fatalf("config: %v", diags)
	}
	return cfg
}

// render prints a Result one line per image and build, leaving out empty
// build fields, so that expectations read like the lockfile.
func render(r *Result) []string {
	var out []string
	for _, img := range r.Images {
		out = append(out, fmt.Sprintf("image %s <- %s", img.Ref, strings.Join(img.Sources, ", ")))
	}
	for _, b := range r.Builds {
		s := fmt.Sprintf("build %s service=%s context=%s dockerfile=%s", b.Ref, strings.Join(b.Services, ","), b.Context, b.Dockerfile)
		if b.Inline != nil {
			s += fmt.Sprintf(" inline=%q", b.Inline)
		}
		if b.TargetStage != "" {
			s += " target=" + b.TargetStage
		}
		if len(b.Args) > 0 {
			var args []string
			for _, k := range slices.Sorted(maps.Keys(b.Args)) {
				args = append(args, k+"="+b.Args[k])
			}
			s += " args=" + strings.Join(args, ",")
		}
		if len(b.Platforms) > 0 {
			s += " platforms=" + strings.Join(b.Platforms, ",")
		}
		if len(b.Bases) > 0 {
			var bases []string
			for _, ref := range b.Bases {
				bases = append(bases, ref.String())
			}
			s += " bases=" + strings.Join(bases, ",")
		}
		out = append(out, s+" <- "+strings.Join(b.Sources, ", "))
	}
	return out
}

const cy = "compose.yaml"

var discoverTests = []struct {
	name    string
	files   map[string]string // see newRepo
	config  string            // images.hcl after the target block
	want    []string          // render's lines
	wantErr []string          // substrings of the error
}{{
	name: "image-only services; one image used twice has both locators, sorted",
	files: map[string]string{cy: `
services:
  zdb:
    image: postgres:16
  adb:
    image: docker.io/library/postgres:16
  cache:
    image: redis:7-alpine
`},
	want: []string{
		"image docker.io/library/postgres:16 <- compose.yaml#services.adb.image, compose.yaml#services.zdb.image",
		"image docker.io/library/redis:7-alpine <- compose.yaml#services.cache.image",
	},
}, {
	name: "builds: named by image or <project>-<service>; args over build_args, target stage, platforms sorted",
	files: map[string]string{
		cy: `
services:
  app:
    image: registry.example.com/app:1.0
    build:
      context: ./app
      args:
        GO_VERSION: "1.25"
      target: runtime
      platforms: [linux/arm64, linux/amd64]
  worker:
    build: ./worker
`,
		// Only "build" and "runtime" are reachable from the target: node
		// (assets) and busybox (debug) are not needed.
		"app/Dockerfile": `ARG GO_VERSION=1.20
ARG DEBIAN=11
FROM golang:${GO_VERSION} AS build
FROM node:22 AS assets
FROM debian:${DEBIAN} AS runtime
COPY --from=build /out /out
FROM runtime AS debug
COPY --from=assets / /
RUN --mount=from=busybox:1.36,target=/bb true
`,
		"worker/Dockerfile": "FROM python:3.12-slim\n",
	},
	config: `discover {
  build_args = { GO_VERSION = "1.22", DEBIAN = "12" }
}
`,
	want: []string{
		"image docker.io/library/debian:12 <- app/Dockerfile#FROM runtime",
		"image docker.io/library/golang:1.25 <- app/Dockerfile#FROM build",
		"image docker.io/library/python:3.12-slim <- worker/Dockerfile#FROM 0",
		"build docker.io/library/default-worker:latest service=worker context=worker dockerfile=worker/Dockerfile" +
			" args=DEBIAN=12,GO_VERSION=1.22 bases=docker.io/library/python:3.12-slim <- compose.yaml#services.worker.build",
		"build registry.example.com/app:1.0 service=app context=app dockerfile=app/Dockerfile target=runtime" +
			" args=DEBIAN=12,GO_VERSION=1.25 platforms=linux/amd64,linux/arm64" +
			" bases=docker.io/library/debian:12,docker.io/library/golang:1.25 <- compose.yaml#services.app.build",
	},
}, {
	name: "project name from compose name:",
	files: map[string]string{
		cy:               "name: store\nservices:\n  api:\n    build: ./api\n",
		"api/Dockerfile": "FROM alpine:3.20\n",
	},
	want: []string{
		"image docker.io/library/alpine:3.20 <- api/Dockerfile#FROM 0",
		"build docker.io/library/store-api:latest service=api context=api dockerfile=api/Dockerfile" +
			" bases=docker.io/library/alpine:3.20 <- compose.yaml#services.api.build",
	},
}, {
	name: "a base built by another service is a dependency, not an image; running it adds a source",
	files: map[string]string{
		cy: `
services:
  app:
    image: registry.example.com/app:1
    build: ./app
  base:
    image: registry.example.com/base:1
    build: ./base
  job:
    image: registry.example.com/base:1
  plain:
    build: ./plain
  onplain:
    build: ./onplain
`,
		"app/Dockerfile":     "FROM registry.example.com/base:1\nCOPY --from=registry.example.com/base:1 /x /x\n",
		"base/Dockerfile":    "FROM alpine:3.20\n",
		"plain/Dockerfile":   "FROM alpine:3.20\n",
		"onplain/Dockerfile": "FROM default-plain\n", // the default name of plain's image
		// A further Dockerfile built from a build of the repository.
		"tools/Dockerfile": "FROM registry.example.com/base:1\n",
	},
	config: `discover {
  dockerfiles = ["tools/Dockerfile"]
}
`,
	want: []string{
		"image docker.io/library/alpine:3.20 <- base/Dockerfile#FROM 0, plain/Dockerfile#FROM 0",
		"build docker.io/library/default-onplain:latest service=onplain context=onplain dockerfile=onplain/Dockerfile" +
			" bases=docker.io/library/default-plain:latest <- compose.yaml#services.onplain.build",
		"build docker.io/library/default-plain:latest service=plain context=plain dockerfile=plain/Dockerfile" +
			" bases=docker.io/library/alpine:3.20 <- compose.yaml#services.plain.build",
		"build registry.example.com/app:1 service=app context=app dockerfile=app/Dockerfile" +
			" bases=registry.example.com/base:1 <- compose.yaml#services.app.build",
		"build registry.example.com/base:1 service=base context=base dockerfile=base/Dockerfile" +
			" bases=docker.io/library/alpine:3.20" +
			" <- compose.yaml#services.base.build, compose.yaml#services.job.image, tools/Dockerfile#FROM 0",
	},
}, {
	name: "additional contexts: docker-image:// is an image and replaces FROM <name>; ./shared is local",
	files: map[string]string{
		cy: `
services:
  app:
    build:
      context: ./app
      additional_contexts:
        base: docker-image://alpine:3.20
        src: ./shared
`,
		"app/Dockerfile":  "FROM base\nCOPY --from=src . /src\nRUN --mount=from=src,target=/s true\n",
		"shared/file.txt": "x",
	},
	want: []string{
		"image docker.io/library/alpine:3.20 <- app/Dockerfile#FROM 0, compose.yaml#services.app.build.additional_contexts.base",
		"build docker.io/library/default-app:latest service=app context=app dockerfile=app/Dockerfile" +
			" bases=docker.io/library/alpine:3.20 <- compose.yaml#services.app.build",
	},
}, {
	name: "additional contexts: ../shared from a compose file in a subdirectory",
	files: map[string]string{
		"deploy/compose.yaml": `
services:
  app:
    build:
      context: ../app
      additional_contexts:
        base: docker-image://alpine:3.20
        src: ../shared
`,
		"app/Dockerfile":  "FROM base AS runtime\nCOPY --from=src . /src\n",
		"shared/file.txt": "x",
	},
	config: `discover {
  compose = ["deploy/compose.yaml"]
}
`,
	want: []string{
		"image docker.io/library/alpine:3.20 <- app/Dockerfile#FROM runtime, deploy/compose.yaml#services.app.build.additional_contexts.base",
		"build docker.io/library/deploy-app:latest service=app context=app dockerfile=app/Dockerfile" +
			" bases=docker.io/library/alpine:3.20 <- deploy/compose.yaml#services.app.build",
	},
}, {
	// compose's "service:<name>" context is the image another service
	// builds: a build dependency, not an image called <name>.
	name: "additional contexts: service:<name> is a build dependency",
	files: map[string]string{
		cy: `
services:
  app:
    build:
      context: ./app
      additional_contexts:
        b: service:base
  base:
    build: ./base
`,
		"app/Dockerfile":  "FROM b\nCOPY --from=b /x /x\n",
		"base/Dockerfile": "FROM alpine:3.20\n",
	},
	want: []string{
		"image docker.io/library/alpine:3.20 <- base/Dockerfile#FROM 0",
		"build docker.io/library/default-app:latest service=app context=app dockerfile=app/Dockerfile" +
			" bases=docker.io/library/default-base:latest <- compose.yaml#services.app.build",
		"build docker.io/library/default-base:latest service=base context=base dockerfile=base/Dockerfile" +
			" bases=docker.io/library/alpine:3.20 <- compose.yaml#services.base.build",
	},
}, {
	name: "dockerfile_inline",
	files: map[string]string{cy: `
services:
  inl:
    image: registry.example.com/inl:1
    build:
      context: .
      dockerfile_inline: |
        FROM python:3.12
        RUN pip install x
`},
	want: []string{
		"image docker.io/library/python:3.12 <- compose.yaml#services.inl.build.dockerfile_inline#FROM 0",
		"build registry.example.com/inl:1 service=inl context=. dockerfile=compose.yaml#services.inl.build.dockerfile_inline" +
			` inline="FROM python:3.12\nRUN pip install x\n" bases=docker.io/library/python:3.12 <- compose.yaml#services.inl.build`,
	},
}, {
	name: "dockerfiles globs: build_args, no rescan of a compose build, .dockerignore never scanned, exclude",
	files: map[string]string{
		cy: `
services:
  api:
    build:
      context: src/api
      args:
        VARIANT: alpine
`,
		// Rescanned with the global VARIANT, this would give python:3.12-slim.
		"src/api/Dockerfile": "ARG VARIANT=bookworm\nFROM python:3.12-${VARIANT}\n",
		// Not a Dockerfile: scanning it would fail.
		"src/api/Dockerfile.dockerignore": "node_modules\n*.md\n",
		"src/web/Dockerfile": "ARG NODE=20\nFROM node:${NODE}-alpine AS build\nFROM nginx:1.27\n" +
			"COPY --from=build /app /usr/share/nginx/html\n",
		"src/web/nested/deep/Dockerfile.prod": "FROM caddy:2\n",
		// Excluded, and not valid Dockerfiles either.
		"src/legacy/old/Dockerfile": "FORM centos:6\n",
		"src/web/Dockerfile.old":    "FORM ubuntu:14.04\n",
		"other/Dockerfile":          "FROM not-matched:1\n",
	},
	config: `discover {
  dockerfiles = ["src/**/Dockerfile*"]
  exclude     = ["src/legacy", "**/*.old"]
  build_args  = { VARIANT = "slim", NODE = "22" }
}
`,
	want: []string{
		"image docker.io/library/caddy:2 <- src/web/nested/deep/Dockerfile.prod#FROM 0",
		"image docker.io/library/nginx:1.27 <- src/web/Dockerfile#FROM 1",
		"image docker.io/library/node:22-alpine <- src/web/Dockerfile#FROM build",
		"image docker.io/library/python:3.12-alpine <- src/api/Dockerfile#FROM 0",
		"build docker.io/library/default-api:latest service=api context=src/api dockerfile=src/api/Dockerfile" +
			" args=NODE=22,VARIANT=alpine bases=docker.io/library/python:3.12-alpine <- compose.yaml#services.api.build",
	},
}, {
	name: "a compose build's Dockerfile reached through a symlink is not rescanned",
	files: map[string]string{
		cy: `
services:
  linked:
    build:
      context: app
      args: {VARIANT: alpine}
  direct:
    build:
      context: web
      dockerfile: ../docker/web.Dockerfile
      args: {VARIANT: alpine}
`,
		"app/Dockerfile":        symlinkPrefix + "../docker/app.Dockerfile",
		"docker/app.Dockerfile": "ARG VARIANT=bookworm\nFROM python:3.12-${VARIANT}\n",
		"web/Dockerfile":        symlinkPrefix + "../docker/web.Dockerfile",
		"docker/web.Dockerfile": "ARG VARIANT=bookworm\nFROM node:22-${VARIANT}\n",
	},
	config: `discover {
  dockerfiles = ["docker/*.Dockerfile", "web/Dockerfile"]
  build_args  = { VARIANT = "slim" }
}
`,
	want: []string{
		"image docker.io/library/node:22-alpine <- docker/web.Dockerfile#FROM 0",
		"image docker.io/library/python:3.12-alpine <- app/Dockerfile#FROM 0",
		"build docker.io/library/default-direct:latest service=direct context=web dockerfile=docker/web.Dockerfile" +
			" args=VARIANT=alpine bases=docker.io/library/node:22-alpine <- compose.yaml#services.direct.build",
		"build docker.io/library/default-linked:latest service=linked context=app dockerfile=app/Dockerfile" +
			" args=VARIANT=alpine bases=docker.io/library/python:3.12-alpine <- compose.yaml#services.linked.build",
	},
}, {
	// README: the predefined platform ARGs expand to the service's first
	// build.platforms entry (as written; Build.Platforms is sorted).
	name: "platform ARGs follow the first build.platforms entry",
	files: map[string]string{
		cy:               "services:\n  app:\n    build:\n      context: app\n      platforms: [linux/arm/v7, linux/amd64]\n",
		"app/Dockerfile": "FROM busybox:${TARGETARCH}${TARGETVARIANT}\n",
	},
	want: []string{
		"image docker.io/library/busybox:armv7 <- app/Dockerfile#FROM 0",
		"build docker.io/library/default-app:latest service=app context=app dockerfile=app/Dockerfile" +
			" platforms=linux/amd64,linux/arm/v7 bases=docker.io/library/busybox:armv7 <- compose.yaml#services.app.build",
	},
}, {
	name: "discover.exclude with ** skips a whole tree",
	files: map[string]string{
		"src/a/Dockerfile":                  "FROM alpine:3.20\n",
		"src/vendor/x/y/Dockerfile":         "FORM broken\n",
		"src/a/node_modules/pkg/Dockerfile": "FORM broken\n",
	},
	config: `discover {
  dockerfiles = ["src/**/Dockerfile"]
  exclude     = ["src/vendor/**", "**/node_modules"]
}
`,
	want: []string{"image docker.io/library/alpine:3.20 <- src/a/Dockerfile#FROM 0"},
}, {
	name: "image blocks add images; one naming a build output only renames it",
	files: map[string]string{
		cy: `
services:
  app:
    image: registry.example.com/app:1
    build: ./app
  db:
    image: postgres:16
`,
		"app/Dockerfile": "FROM alpine:3.20\n",
	},
	config: `
image "memcached:1.6" {}
image "registry.example.com/app:1" {
  target = "apps/app:1"
}
image "postgres:16" {
  target = "db/postgres"
}
`,
	want: []string{
		"image docker.io/library/alpine:3.20 <- app/Dockerfile#FROM 0",
		"image docker.io/library/memcached:1.6 <- images.hcl#image.docker.io/library/memcached:1.6",
		"image docker.io/library/postgres:16 <- compose.yaml#services.db.image, images.hcl#image.docker.io/library/postgres:16",
		"build registry.example.com/app:1 service=app context=app dockerfile=app/Dockerfile" +
			" bases=docker.io/library/alpine:3.20 <- compose.yaml#services.app.build",
	},
}, {
	name: "top-level exclude drops images and builds by canonical reference",
	files: map[string]string{
		cy: `
services:
  app:
    image: registry.example.com/app:1
    build: ./app
  tools:
    build: ./tools
  db:
    image: postgres:16
  cache:
    image: redis:7
`,
		"app/Dockerfile":   "FROM alpine:3.20\n",
		"tools/Dockerfile": "FROM debian:12\n",
	},
	config: `
image "redis:6" {}
exclude = ["docker.io/library/redis:*", "registry.example.com/app:*", "**/default-tools:*"]
`,
	want: []string{
		"image docker.io/library/alpine:3.20 <- app/Dockerfile#FROM 0",
		"image docker.io/library/debian:12 <- tools/Dockerfile#FROM 0",
		"image docker.io/library/postgres:16 <- compose.yaml#services.db.image",
	},
}, {
	name: "services sharing one build definition are one build with both as locators",
	files: map[string]string{
		cy: `
services:
  salt-master-2:
    image: saltstack:1
    build:
      context: ./salt
      args: {ROLE: master}
  salt-master-1:
    image: docker.io/library/saltstack:1
    build:
      context: ./salt
      dockerfile: Dockerfile
      args: [ROLE=master]
  minion:
    image: saltstack:1
`,
		"salt/Dockerfile": "FROM alpine:3.20\n",
	},
	want: []string{
		"image docker.io/library/alpine:3.20 <- salt/Dockerfile#FROM 0",
		"build docker.io/library/saltstack:1 service=salt-master-1,salt-master-2 context=salt dockerfile=salt/Dockerfile" +
			" args=ROLE=master bases=docker.io/library/alpine:3.20 <- compose.yaml#services.minion.image," +
			" compose.yaml#services.salt-master-1.build, compose.yaml#services.salt-master-2.build",
	},
}, {
	name: "two services building the same default-named image from one definition",
	files: map[string]string{
		cy: `
services:
  web:
    build: ./app
  other:
    image: default-web
    build: ./app
`,
		"app/Dockerfile": "FROM alpine\n",
	},
	want: []string{
		"image docker.io/library/alpine:latest <- app/Dockerfile#FROM 0",
		"build docker.io/library/default-web:latest service=other,web context=app dockerfile=app/Dockerfile" +
			" bases=docker.io/library/alpine:latest <- compose.yaml#services.other.build, compose.yaml#services.web.build",
	},
}, {
	name: "a compose Dockerfile that is a symlink out of the repository",
	files: map[string]string{
		cy:                      "services:\n  app:\n    build: ./app\n",
		"app/Dockerfile":        symlinkPrefix + "../../outside/Dockerfile",
		"../outside/Dockerfile": "FROM alpine\n",
	},
	wantErr: []string{"service app", `app/Dockerfile is a symbolic link to "../../outside/Dockerfile", outside the repository`},
}, {
	name: "a dockerfiles glob match that is a symlink out of the repository",
	files: map[string]string{
		"src/ok/Dockerfile":     "FROM alpine\n",
		"src/evil/Dockerfile":   symlinkPrefix + "../../../outside/Dockerfile",
		"../outside/Dockerfile": "FROM alpine\n",
	},
	config:  "discover {\n  dockerfiles = [\"src/**/Dockerfile\"]\n}\n",
	wantErr: []string{`src/evil/Dockerfile is a symbolic link to "../../../outside/Dockerfile", outside the repository`},
}, {
	// As docker does in a build context, globs do not follow links to
	// directories: one out of the repository is not read, a loop is not
	// walked forever, and a linked directory is not found twice.
	name: "dockerfiles globs do not follow symlinked directories",
	files: map[string]string{
		"src/ok/Dockerfile":     "FROM alpine\n",
		"src/ext":               symlinkPrefix + "../../outside",
		"../outside/Dockerfile": "FROM outside\n",
		"src/loop":              symlinkPrefix + ".",
		"src/alias":             symlinkPrefix + "ok",
		"src/ok/Dockerfile.d":   symlinkPrefix + "../../conf", // a directory named like a Dockerfile
		"conf/x":                "FORM not a Dockerfile\n",
		"src/ok/Dockerfile.dev": symlinkPrefix + "Dockerfile", // a link to a file is read
	},
	config: "discover {\n  dockerfiles = [\"src/**/Dockerfile*\"]\n}\n",
	want:   []string{"image docker.io/library/alpine:latest <- src/ok/Dockerfile#FROM 0, src/ok/Dockerfile.dev#FROM 0"},
}, {
	name: "a dockerfiles glob matching a dangling symlink",
	files: map[string]string{
		"src/ok/Dockerfile":   "FROM alpine\n",
		"src/gone/Dockerfile": symlinkPrefix + "nowhere",
	},
	config:  "discover {\n  dockerfiles = [\"src/**/Dockerfile\"]\n}\n",
	wantErr: []string{"src/gone/Dockerfile", "no such file or directory"},
}, {
	name: "no compose file, only dockerfiles globs",
	files: map[string]string{
		"svc/a/Dockerfile":     "# syntax=docker/dockerfile:1.7\nFROM golang:1.25 AS build\nFROM gcr.io/distroless/static\nCOPY --from=build /a /a\n",
		"svc/b/Dockerfile.dev": "FROM golang:1.25\n",
	},
	config: "discover {\n  dockerfiles = [\"svc/**/Dockerfile*\"]\n}\n",
	want: []string{
		"image docker.io/docker/dockerfile:1.7 <- svc/a/Dockerfile#syntax",
		"image docker.io/library/golang:1.25 <- svc/a/Dockerfile#FROM build, svc/b/Dockerfile.dev#FROM 0",
		"image gcr.io/distroless/static:latest <- svc/a/Dockerfile#FROM 1",
	},
}}

func TestRun(t *testing.T) {
	for _, tt := range discoverTests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRepo(t, tt.files)
			cfg := parseConfig(t, root, tt.config)
			res, err := Run(context.Background(), cfg)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, want %q; got:\n%s", tt.wantErr, strings.Join(render(res), "\n"))
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
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

// TestRunSymlinkLoops: two links to their own directory make 2^n paths of
// depth n; a glob that followed them would not finish.
func TestRunSymlinkLoops(t *testing.T) {
	root := newRepo(t, map[string]string{
		"src/a/Dockerfile": "FROM alpine\n",
		"src/l1":           symlinkPrefix + ".",
		"src/l2":           symlinkPrefix + ".",
		"src/a/up":         symlinkPrefix + "..",
	})
	cfg := parseConfig(t, root, "discover {\n  dockerfiles = [\"src/**/Dockerfile\"]\n}\n")
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Run(context.Background(), cfg)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatal(o.err)
		}
		want := []string{"image docker.io/library/alpine:latest <- src/a/Dockerfile#FROM 0"}
		if got := render(o.res); !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not finish within 30s: the glob follows symlink loops")
	}
}

// determinismRepo exercises every kind of finding.
var determinismRepo = map[string]string{
	cy: `
services:
  app:
    image: registry.example.com/app:1
    build:
      context: ./app
      args: {VERSION: "2"}
      platforms: [linux/s390x, linux/arm64, linux/amd64]
      additional_contexts:
        base: docker-image://alpine:3.20
  base:
    image: registry.example.com/base:1
    build: ./base
  job:
    image: registry.example.com/base:1
  db:
    image: postgres:16
  db2:
    image: postgres:16
`,
	"app/Dockerfile":       "ARG VERSION=1\nFROM base AS a\nFROM registry.example.com/base:1\nCOPY --from=a / /\nFROM node:${VERSION}\n",
	"base/Dockerfile":      "FROM debian:12 AS x\nFROM alpine:3.20\nCOPY --from=x / /\n",
	"src/z/Dockerfile":     "FROM postgres:16\n",
	"src/a/Dockerfile":     "FROM postgres:16\nFROM redis:7\n",
	"src/m/n/Dockerfile.x": "FROM registry.example.com/base:1\n",
}

const determinismConfig = `discover {
  dockerfiles = ["src/**/Dockerfile*", "app/Dockerfile"]
  build_args  = { VERSION = "3" }
}
image "memcached:1.6" {}
`

func TestRunDeterministic(t *testing.T) {
	names := slices.Sorted(maps.Keys(determinismRepo))
	reversed := slices.Clone(names)
	slices.Reverse(reversed)

	var results []*Result
	for _, order := range [][]string{names, reversed} {
		root := filepath.Join(t.TempDir(), repoName)
		writeFiles(t, root, order, determinismRepo)
		cfg := parseConfig(t, root, determinismConfig)
		for range 2 {
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			results = append(results, res)
		}
	}
	if len(results[0].Images) != 6 || len(results[0].Builds) != 2 {
		t.Fatalf("unexpected result:\n%s", strings.Join(render(results[0]), "\n"))
	}
	for i, r := range results[1:] {
		if !reflect.DeepEqual(results[0], r) {
			t.Errorf("run %d differs:\n%s\nfirst:\n%s", i+1, strings.Join(render(r), "\n"), strings.Join(render(results[0]), "\n"))
		}
	}
}

// benchRepo generates a repository of n Dockerfiles under src/** and a
// compose file of n/2 services, half of which build one of the Dockerfiles.
func benchRepo(b *testing.B, n int) *config.Config {
	b.Helper()
	root := filepath.Join(b.TempDir(), repoName)
	files := map[string]string{}
	var compose strings.Builder
	compose.WriteString("services:\n")
	for i := range n {
		dir := fmt.Sprintf("src/group%02d/svc%04d", i%25, i)
		files[dir+"/Dockerfile"] = fmt.Sprintf(`# syntax=docker/dockerfile:1.7
ARG GO_VERSION=1.%d
ARG ALPINE=3.%d
ARG VARIANT
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
ARG TARGETARCH
RUN --mount=type=cache,target=/root/.cache GOARCH=$TARGETARCH go build -o /out ./...
FROM node:%d${VARIANT:+-$VARIANT} AS assets
RUN npm ci && npm run build
FROM alpine:${ALPINE} AS runtime
COPY --from=build /out /usr/local/bin/app
COPY --from=assets /dist /srv
COPY --from=busybox:1.%d /bin/busybox /bin/busybox
ENTRYPOINT ["/usr/local/bin/app"]
`, 20+i%6, 18+i%4, 18+i%5, 30+i%7)
	}
	for i := range n / 2 {
		fmt.Fprintf(&compose, "  svc%04d:\n", i)
		if i%2 == 0 {
			fmt.Fprintf(&compose, "    image: registry.example.com/team/svc%04d:1.0\n", i)
			fmt.Fprintf(&compose, "    build:\n      context: src/group%02d/svc%04d\n      args:\n        VARIANT: slim\n", i%25, i)
		} else {
			fmt.Fprintf(&compose, "    image: redis:%d\n", i%9)
		}
	}
	files[cy] = compose.String()
	if err := os.Mkdir(root, 0o755); err != nil {
		b.Fatal(err)
	}
	writeFiles(b, root, slices.Sorted(maps.Keys(files)), files)
	return parseConfig(b, root, `discover {
  dockerfiles = ["src/**/Dockerfile*"]
  exclude     = ["src/**/testdata"]
  build_args  = { ALPINE = "3.20" }
}
`)
}

func BenchmarkDiscover(b *testing.B) {
	cfg := benchRepo(b, 1000)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Builds) != 250 {
		b.Fatalf("%d builds, want 250", len(res.Builds))
	}
	for b.Loop() {
		if _, err := Run(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
	}
}

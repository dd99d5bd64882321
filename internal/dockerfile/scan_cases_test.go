package dockerfile

import "github.com/imagesync/imagesync/internal/imageref"

const (
	dfPath   = "src/web/Dockerfile"
	dfDigest = "sha256:2d0ae5a0c6a8a4f3e4c76b8c4f7e0b7a0e2bdbf4d6b5b6f1c0e4e2a3f1e5d6c7"
)

// dfTests is shared by TestScan and, as seed corpus, by FuzzScan and
// FuzzScanFlags. want lists "ref locator-suffix" pairs, where the suffix
// is the locator after "<dfPath>#".
var dfTests = []struct {
	name    string
	in      string
	opts    Options // Path is set to dfPath
	want    []string
	wantErr string
	// template: the error is marked Error.Template (the file looks like a
	// template); is: a sentinel the error wraps.
	template bool
	is       error
}{
	// --- plain FROM, stages, scratch ---
	{name: "single unnamed stage", in: "FROM alpine\n", want: []string{"docker.io/library/alpine:latest FROM 0"}},
	{
		name: "lowercase keywords",
		in:   "from alpine:3.20 as base\nrun echo hi\nfrom base\n",
		want: []string{"docker.io/library/alpine:3.20 FROM base"},
	},
	{name: "scratch is not an image", in: "FROM scratch\nCOPY app /app\n"},
	{
		name: "FROM stage is not an image",
		in:   "FROM golang:1.25 AS build\nFROM build AS test\nFROM build\n",
		want: []string{"docker.io/library/golang:1.25 FROM build"},
	},
	{
		name: "stage names are case-insensitive",
		in:   "FROM golang:1.25 AS Builder\nFROM builder AS mid\nFROM alpine\nCOPY --from=BUILDER /a /a\nCOPY --from=Mid /b /b\n",
		want: []string{"docker.io/library/golang:1.25 FROM builder", "docker.io/library/alpine:latest FROM 2"},
	},
	{
		// BuildKit lowercases stage names but looks FROM up as written.
		name:    "FROM with an uppercase stage name is an invalid image, as in BuildKit",
		in:      "FROM alpine AS builder\nFROM BUILDER\n",
		wantErr: dfPath + `:2: FROM BUILDER: invalid image reference "BUILDER"`,
	},
	{
		name: "stage index in COPY --from is not an image",
		in:   "FROM golang:1.25\nRUN go build\nFROM alpine\nCOPY --from=0 /out /out\n",
		want: []string{"docker.io/library/golang:1.25 FROM 0", "docker.io/library/alpine:latest FROM 1"},
	},
	{
		name:    "COPY --from index out of range",
		in:      "FROM alpine\nCOPY --from=3 /a /a\n",
		wantErr: dfPath + ":2: COPY --from=3: invalid stage index 3",
	},
	{
		name: "platform flag is not an image",
		in:   "FROM --platform=$BUILDPLATFORM golang:1.25-alpine AS build\nRUN go build\nFROM alpine:3.20\nCOPY --from=build /app /app\n",
		want: []string{"docker.io/library/golang:1.25-alpine FROM build", "docker.io/library/alpine:3.20 FROM 1"},
	},
	{
		name: "platform flag with a single known architecture",
		in:   "FROM --platform=arm64 alpine\n",
		want: []string{"docker.io/library/alpine:latest FROM 0"},
	},
	{
		name:    "invalid platform flag",
		in:      "FROM --platform=linux/amd64/v2/x alpine\n",
		wantErr: dfPath + `:1: FROM alpine: --platform=linux/amd64/v2/x: invalid platform "linux/amd64/v2/x"`,
	},
	{
		name:    "platform flag with an unset variable in part of it",
		in:      "ARG ARCH\nFROM --platform=linux/$ARCH alpine\n",
		wantErr: dfPath + ":2: FROM --platform=linux/$ARCH: variable ARCH is not set",
	},
	{
		name:    "platform flag with an unset variable",
		in:      "FROM --platform=$PLAT alpine\n",
		wantErr: dfPath + ":1: FROM --platform=$PLAT: variable PLAT is not set",
	},

	// --- ARGs and build args ---
	{
		name: "meta ARG with default",
		in:   "ARG ALPINE=3.20\nFROM alpine:${ALPINE}\n",
		want: []string{"docker.io/library/alpine:3.20 FROM 0"},
	},
	{
		name: "build arg overrides a declared ARG",
		in:   "ARG ALPINE=3.20\nFROM alpine:$ALPINE\n",
		opts: Options{BuildArgs: map[string]string{"ALPINE": "3.21"}},
		want: []string{"docker.io/library/alpine:3.21 FROM 0"},
	},
	{
		name: "build arg sets a declared ARG without default",
		in:   "ARG PG\nFROM postgres:${PG}\n",
		opts: Options{BuildArgs: map[string]string{"PG": "17"}},
		want: []string{"docker.io/library/postgres:17 FROM 0"},
	},
	{
		name: "undeclared build arg changes nothing",
		in:   "FROM alpine:${ALPINE:-3.20}\n",
		opts: Options{BuildArgs: map[string]string{"ALPINE": "3.21"}},
		want: []string{"docker.io/library/alpine:3.20 FROM 0"},
	},
	{
		name: "default form with ARG declared without default",
		in:   "ARG NODE\nFROM node:${NODE:-22}-alpine\n",
		want: []string{"docker.io/library/node:22-alpine FROM 0"},
	},
	{
		name: "alternative form, variable set",
		in:   "ARG SUFFIX=slim\nFROM python:3.13${SUFFIX:+-$SUFFIX}\n",
		want: []string{"docker.io/library/python:3.13-slim FROM 0"},
	},
	{
		name: "alternative form, variable unset",
		in:   "ARG SUFFIX\nFROM python:3.13${SUFFIX:+-$SUFFIX}\n",
		want: []string{"docker.io/library/python:3.13 FROM 0"},
	},
	{
		name: "ARG default uses earlier ARGs",
		in:   "ARG REG=ghcr.io/acme\nARG IMG=${REG}/base\nARG TAG=1.2\nFROM ${IMG}:${TAG}\n",
		want: []string{"ghcr.io/acme/base:1.2 FROM 0"},
	},
	{
		name: "ARG in a stage does not leak into later FROMs",
		in:   "ARG V=1\nFROM alpine AS a\nARG V=2\nARG W=9\nFROM busybox:${V}-${W:-x}\nCOPY --from=a /a /a\n",
		want: []string{"docker.io/library/alpine:latest FROM a", "docker.io/library/busybox:1-x FROM 1"},
	},
	{
		name: "predefined platform args default to linux/amd64",
		in:   "FROM acme/tool:${TARGETOS}-${TARGETARCH}${TARGETVARIANT}\n",
		want: []string{"docker.io/acme/tool:linux-amd64 FROM 0"},
	},
	{
		name: "predefined platform args follow Platform",
		in:   "ARG TARGETARCH\nFROM acme/tool:${TARGETARCH}-${TARGETVARIANT}-${BUILDARCH}\n",
		opts: Options{Platform: "linux/arm"},
		want: []string{"docker.io/acme/tool:arm-v7-arm FROM 0"},
	},
	{
		name:    "invalid Platform option",
		in:      "FROM alpine\n",
		opts:    Options{Platform: "arm64"},
		wantErr: dfPath + `: invalid platform "arm64"`,
	},
	{
		name:    "unset ARG without default",
		in:      "ARG PG\nFROM postgres:${PG}\n",
		wantErr: dfPath + ":2: FROM postgres:${PG}: variable PG is not set: declare a default (ARG PG=<value>) before the first FROM or set it in build_args",
	},
	{
		name:    "unset ARG that still gives a valid reference",
		in:      "ARG VARIANT\nFROM node:22$VARIANT\n",
		wantErr: dfPath + ":2: FROM node:22$VARIANT: variable VARIANT is not set",
	},
	{
		name:    "undeclared variable",
		in:      "FROM ${IMAGE}\n",
		wantErr: dfPath + ":1: FROM ${IMAGE}: variable IMAGE is not set",
	},
	{
		name: "unset ARG in a stage that is not built",
		in:   "ARG VARIANT\nFROM node:22$VARIANT AS dev\nFROM alpine\n",
		want: []string{"docker.io/library/alpine:latest FROM 1"},
	},
	{
		name:    "required variable form",
		in:      "ARG PG\nFROM postgres:${PG:?required}\n",
		wantErr: dfPath + ":2: FROM postgres:${PG:?required}: failed to process \"postgres:${PG:?required}\": PG: required",
	},

	// --- COPY --from and RUN --mount ---
	{
		name: "COPY --from an image",
		in:   "FROM alpine\nCOPY --from=nginx:1.27 /etc/nginx /etc/nginx\nCOPY --from=docker.io/library/nginx:1.27 /a /a\n",
		want: []string{"docker.io/library/alpine:latest FROM 0", "docker.io/library/nginx:1.27 COPY --from"},
	},
	{
		name: "RUN --mount from an image and from a stage",
		in: "FROM golang:1.25 AS build\nFROM alpine\n" +
			"RUN --mount=type=bind,from=busybox:1.37,source=/bin,target=/b ls\n" +
			"RUN --mount=type=cache,from=ghcr.io/acme/cache:v1,target=/c --mount=type=bind,from=build,target=/s ls\n" +
			"RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=x ls\n",
		want: []string{
			"docker.io/library/golang:1.25 FROM build",
			"docker.io/library/alpine:latest FROM 1",
			"docker.io/library/busybox:1.37 RUN --mount",
			"ghcr.io/acme/cache:v1 RUN --mount",
		},
	},
	{
		name:    "COPY --from with a variable",
		in:      "ARG SRC=alpine\nFROM alpine\nCOPY --from=$SRC /a /a\n",
		wantErr: dfPath + ":3: COPY --from=$SRC: variable expansion is not supported for --from",
	},
	{
		// BuildKit's parser refuses variables in from= before expanding.
		name:    "RUN --mount from with a variable",
		in:      "FROM alpine\nRUN --mount=type=bind,from=${SRC},target=/s ls\n",
		wantErr: dfPath + ":2: 'from' doesn't support variable expansion",
	},
	{
		// Unlike COPY --from, BuildKit has no stage indexes for mounts.
		name: "RUN --mount from=0 is an image name in BuildKit",
		in:   "FROM alpine\nRUN --mount=from=0,target=/s ls\n",
		want: []string{"docker.io/library/alpine:latest FROM 0", "docker.io/library/0:latest RUN --mount"},
	},
	{
		name:    "invalid mount in a built stage",
		in:      "FROM alpine\nRUN --mount=type=cahce,target=/c ls\n",
		wantErr: dfPath + `:2: RUN --mount: unsupported mount type "cahce"`,
	},
	{
		name: "invalid mount in a stage that is not built, and a mount using variables",
		in:   "FROM alpine AS unused\nRUN --mount=type=cahce,target=/c ls\nFROM alpine:3.20\nARG T=cache\nRUN --mount=type=$T,target=/c ls\n",
		want: []string{"docker.io/library/alpine:3.20 FROM 1"},
	},
	{
		name: "COPY --from scratch",
		in:   "FROM alpine\nCOPY --from=scratch / /\n",
		want: []string{"docker.io/library/alpine:latest FROM 0"},
	},
	{
		name:    "COPY --from an invalid reference",
		in:      "FROM alpine\nCOPY --from=Foo /a /a\n",
		wantErr: dfPath + `:2: COPY --from=Foo: invalid image reference "Foo"`,
	},
	{
		name:    "COPY --from a later stage",
		in:      "FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\n",
		opts:    Options{Target: "a"},
		wantErr: dfPath + ":2: COPY --from=b: stage b must be defined before stage a",
	},
	{
		name:    "circular COPY --from",
		in:      "FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\nCOPY --from=a /y /y\nFROM alpine\n",
		wantErr: "circular dependency detected on stage a",
	},
	{
		name: "ONBUILD triggers of a base stage run in the stages built from it",
		in:   "FROM alpine AS base\nONBUILD COPY --from=busybox:1.37 /bin/sh /sh\nFROM base\n",
		want: []string{"docker.io/library/alpine:latest FROM base", "docker.io/library/busybox:1.37 COPY --from"},
	},
	{
		name: "ONBUILD triggers of an unused stage",
		in:   "FROM alpine AS base\nONBUILD COPY --from=busybox:1.37 /bin/sh /sh\nFROM base AS unused\nFROM alpine:3.20\n",
		want: []string{"docker.io/library/alpine:3.20 FROM 2"},
	},

	// --- syntax ---
	{
		name: "syntax directive",
		in:   "# syntax=docker/dockerfile:1.7\nFROM alpine\n",
		want: []string{"docker.io/docker/dockerfile:1.7 syntax", "docker.io/library/alpine:latest FROM 0"},
	},
	{
		name: "syntax directive without space, after escape directive",
		in:   "# escape=`\n#syntax=docker.io/docker/dockerfile:1\nFROM alpine\nRUN echo a `\n  b\n",
		want: []string{"docker.io/docker/dockerfile:1 syntax", "docker.io/library/alpine:latest FROM 0"},
	},
	{
		name: "BUILDKIT_SYNTAX build arg overrides the directive",
		in:   "# syntax=docker/dockerfile:1.7\nFROM alpine\n",
		opts: Options{BuildArgs: map[string]string{"BUILDKIT_SYNTAX": "docker/dockerfile:1.10"}},
		want: []string{"docker.io/docker/dockerfile:1.10 syntax", "docker.io/library/alpine:latest FROM 0"},
	},
	{
		name: "syntax comment after an instruction is only a comment",
		in:   "FROM alpine\n# syntax=docker/dockerfile:1.7\n",
		want: []string{"docker.io/library/alpine:latest FROM 0"},
	},
	{
		name:    "invalid syntax directive",
		in:      "# syntax=Docker/Dockerfile\nFROM alpine\n",
		wantErr: dfPath + `:1: syntax Docker/Dockerfile: invalid image reference`,
	},

	// --- lexical matters ---
	{
		name: "heredoc bodies are not instructions",
		in:   "FROM alpine\nRUN <<EOF\nFROM evil\nCOPY --from=evil2 / /\nEOF\nCOPY <<-EOT /etc/x\n\tFROM evil3\n\tEOT\n",
		want: []string{"docker.io/library/alpine:latest FROM 0"},
	},
	{
		name: "continuation lines with comments between them",
		in:   "FROM \\\n# the base\n  alpine:3.20 \\\n\n  AS base\nRUN apk add \\\n# curl\n    curl\nFROM base\n",
		want: []string{"docker.io/library/alpine:3.20 FROM base"},
	},
	{
		name: "CRLF line endings and a UTF-8 BOM",
		in:   "\ufeff# syntax=docker/dockerfile:1\r\nFROM alpine:3.20 AS base\r\nRUN echo \\\r\n  hi\r\nFROM base\r\nCOPY --from=nginx /a /a\r\n",
		want: []string{
			"docker.io/docker/dockerfile:1 syntax",
			"docker.io/library/alpine:3.20 FROM base",
			"docker.io/library/nginx:latest COPY --from",
		},
	},
	{
		name: "pinned references are kept as given",
		in:   "FROM alpine:3.20@" + dfDigest + " AS a\nFROM alpine@" + dfDigest + "\nCOPY --from=a / /\n",
		want: []string{
			"docker.io/library/alpine:3.20@" + dfDigest + " FROM a",
			"docker.io/library/alpine@" + dfDigest + " FROM 1",
		},
	},
	{
		name: "duplicates are removed per locator",
		in:   "FROM alpine AS a\nFROM alpine AS b\nCOPY --from=a / /\nCOPY --from=alpine / /\nCOPY --from=alpine:latest / /\n",
		want: []string{
			"docker.io/library/alpine:latest FROM a",
			"docker.io/library/alpine:latest FROM b",
			"docker.io/library/alpine:latest COPY --from",
		},
	},

	// --- targets and reachability ---
	{
		name: "without target only stages reachable from the last stage count",
		in: "FROM golang:1.25 AS build\nFROM node:22 AS web\nFROM debian:12 AS unused\n" +
			"FROM alpine\nCOPY --from=build /a /a\nRUN --mount=from=web,target=/w ls\n",
		want: []string{
			"docker.io/library/golang:1.25 FROM build",
			"docker.io/library/node:22 FROM web",
			"docker.io/library/alpine:latest FROM 3",
		},
	},
	{
		name: "target stage (case-insensitive) and what it uses",
		in: "FROM golang:1.25 AS build\nFROM build AS test\nCOPY --from=nginx /a /a\n" +
			"FROM alpine AS final\nCOPY --from=build /a /a\n",
		opts: Options{Target: "Test"},
		want: []string{"docker.io/library/golang:1.25 FROM build", "docker.io/library/nginx:latest COPY --from"},
	},
	{
		name: "target chain through FROM, COPY --from and RUN --mount",
		in: "FROM golang:1.25 AS build\nFROM debian:12 AS tools\nFROM node:22 AS assets\nFROM build AS test\n" +
			"COPY --from=assets /a /a\nRUN --mount=from=tools,target=/t ls\nFROM alpine AS final\nCOPY --from=build /a /a\n",
		opts: Options{Target: "test"},
		want: []string{
			"docker.io/library/golang:1.25 FROM build",
			"docker.io/library/debian:12 FROM tools",
			"docker.io/library/node:22 FROM assets",
		},
	},
	{
		name:    "unknown target",
		in:      "FROM alpine AS a\nFROM alpine AS b\n",
		opts:    Options{Target: "prod"},
		wantErr: dfPath + `: target stage "prod" could not be found (stages: a, b)`,
	},
	{
		name: "TARGETSTAGE is the target",
		in:   "FROM acme/img:${TARGETSTAGE} AS dev\n",
		opts: Options{Target: "dev"},
		want: []string{"docker.io/acme/img:dev FROM dev"},
	},

	// --- additional contexts ---
	{
		name: "named context replaces an image",
		in:   "FROM alpine:latest AS base\nFROM base\nCOPY --from=nginx /a /a\nRUN --mount=from=busybox,target=/b ls\n",
		opts: Options{NamedContexts: map[string]imageref.Ref{
			"alpine":  imageref.MustParse("registry.example.com/alpine:3.20"),
			"nginx":   imageref.MustParse("registry.example.com/nginx:1.27"),
			"busybox": imageref.MustParse("registry.example.com/busybox:1.37"),
		}},
		want: []string{
			"registry.example.com/alpine:3.20 FROM base",
			"registry.example.com/nginx:1.27 COPY --from",
			"registry.example.com/busybox:1.37 RUN --mount",
		},
	},
	{
		name: "named context replaces a whole stage",
		in:   "FROM golang:1.25 AS deps\nRUN go mod download\nFROM alpine\nCOPY --from=deps /go /go\n",
		opts: Options{NamedContexts: map[string]imageref.Ref{"deps": imageref.MustParse("ghcr.io/acme/deps:v2")}},
		want: []string{"ghcr.io/acme/deps:v2 FROM deps", "docker.io/library/alpine:latest FROM 1"},
	},
	{
		name: "named context for an unnamed stage's FROM",
		in:   "FROM base-image\n",
		opts: Options{NamedContexts: map[string]imageref.Ref{"base-image": imageref.MustParse("ghcr.io/acme/base:1")}},
		want: []string{"ghcr.io/acme/base:1 FROM 0"},
	},
	{
		name: "local contexts are not images",
		in:   "FROM alpine AS cfg\nFROM src\nCOPY --from=assets / /\nRUN --mount=from=cache,target=/c ls\nCOPY --from=cfg / /\n",
		opts: Options{LocalContexts: map[string]bool{"src": true, "assets": true, "cache": true, "cfg": true}},
	},

	{
		name: "all stages: every stage counts, not only those the last one reaches",
		in: "FROM golang:1.25 AS build\nFROM node:22 AS assets\nFROM alpine:3.20 AS runtime\nCOPY --from=build / /\n" +
			"FROM runtime AS debug\nRUN --mount=from=busybox:1.36,target=/b true\n",
		opts: Options{AllStages: true},
		want: []string{"docker.io/library/golang:1.25 FROM build", "docker.io/library/node:22 FROM assets",
			"docker.io/library/alpine:3.20 FROM runtime", "docker.io/library/busybox:1.36 RUN --mount"},
	},
	{
		name: "all stages: a target wins",
		in: "FROM golang:1.25 AS build\nFROM node:22 AS assets\nFROM alpine:3.20 AS runtime\nCOPY --from=build / /\n" +
			"FROM runtime AS debug\nRUN --mount=from=busybox:1.36,target=/b true\n",
		opts: Options{AllStages: true, Target: "runtime"},
		want: []string{"docker.io/library/golang:1.25 FROM build", "docker.io/library/alpine:3.20 FROM runtime"},
	},
	{
		name: "all stages: the ONBUILD triggers of every stage built on another",
		in:   "FROM alpine:3.20 AS base\nONBUILD COPY --from=tools:1 / /\nFROM base AS child\nFROM busybox:1.36\n",
		opts: Options{AllStages: true},
		want: []string{"docker.io/library/alpine:3.20 FROM base", "docker.io/library/tools:1 COPY --from", "docker.io/library/busybox:1.36 FROM 2"},
	},

	// --- errors ---
	{name: "empty file", in: "", wantErr: dfPath + ": the Dockerfile is empty"},
	{name: "only comments", in: "# nothing\n\n", wantErr: dfPath + ":"},
	{name: "no FROM", in: "ARG A=1\n", wantErr: dfPath + ": no FROM instruction", is: ErrNoFrom},
	{name: "template placeholder as the image", in: "FROM {{BASE_IMAGE}}\n", wantErr: dfPath + ":1: FROM {{BASE_IMAGE}}: invalid image reference", template: true},
	{name: "template placeholder: the line", in: "FROM alpine\nFROM {{REGISTRY}}/python:3.12\n", wantErr: dfPath + ":2: " +
		`FROM {{REGISTRY}}/python:3.12: invalid image reference "{{REGISTRY}}/python:3.12": invalid reference format`, template: true},
	{name: "template placeholder BuildKit refuses", in: "FROM python:{{ PY_VERSION }}\n", wantErr: dfPath + ":1: ", template: true},
	{name: "template placeholder in an ARG", in: "ARG V={{V}}\nFROM python:$V\n", wantErr: dfPath + ":2: ", template: true},
	{name: "all stages: an unset variable in a stage the last one does not reach", in: "ARG BASE\nFROM ${BASE} AS old\nFROM alpine\n",
		opts: Options{AllStages: true}, wantErr: dfPath + ":2: FROM ${BASE}: variable BASE is not set: declare a default" +
			" (ARG BASE=<value>) before the first FROM or set it in build_args", is: ErrUnsetArg},
	{name: "a fragment without FROM", in: "RUN true\n", wantErr: dfPath + ": no FROM instruction: this is not a Dockerfile docker can build", is: ErrNoFrom},
	{name: "instruction before FROM", in: "RUN true\nFROM alpine\n", wantErr: dfPath + ":1: no build stage in current context"},
	{name: "unknown instruction", in: "FROM alpine\n\nFORM x\n", wantErr: dfPath + ":3: unknown instruction: FORM (did you mean FROM?)"},
	{name: "FROM without arguments", in: "FROM alpine\nFROM\n", wantErr: dfPath + ":2: FROM requires either one or three arguments"},
	{
		name:    "stage name used twice",
		in:      "FROM alpine AS base\nFROM busybox AS Base\n",
		wantErr: dfPath + `:2: FROM busybox: duplicate stage name "base" (first used on line 1)`,
	},
	{
		name:    "invalid reference",
		in:      "FROM alpine\n\nFROM nginx:1.27:bad\n",
		wantErr: dfPath + `:3: FROM nginx:1.27:bad: invalid image reference`,
	},
	{
		name:    "unterminated heredoc",
		in:      "FROM alpine\nRUN <<EOF\necho\n",
		wantErr: dfPath + ":2: unterminated heredoc",
	},
}

package dockerfile

import (
	"bytes"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/imagesync/imagesync/internal/imageref"
)

// testDigest is the digest every test pin carries.
const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// mirrorOf is the test pin of a reference: its copy in the team's
// registry, pinned by digest.
func mirrorOf(ref imageref.Ref) string {
	s := "127.0.0.1:5000/team/" + path.Base(ref.Path())
	if ref.Tag() != "" {
		s += ":" + ref.Tag()
	}
	return s + "@" + testDigest
}

// pinsFor pins every reference of a scan with mirrorOf.
func pinsFor(scan []Found) map[string]string {
	pins := make(map[string]string)
	for _, f := range scan {
		pins[f.Ref.String()] = mirrorOf(f.Ref)
	}
	return pins
}

// expandPins replaces each ⟨short ref⟩ in s by the short ref's test pin.
func expandPins(t *testing.T, s string) string {
	t.Helper()
	return regexp.MustCompile(`⟨([^⟩]+)⟩`).ReplaceAllStringFunc(s, func(m string) string {
		return mirrorOf(imageref.MustParse(strings.TrimSuffix(strings.TrimPrefix(m, "⟨"), "⟩")))
	})
}

// rewriteTests are TestRewrite's cases; their inputs are also seeds of
// FuzzScanFlags.
var rewriteTests = []struct {
	name   string
	in     string
	opts   Options  // Path is set by the test
	want   string   // ⟨ref⟩ stands for ref's pin
	unpin  []string // references to leave without a pin
	errSub string
}{
	{
		name: "ARG-expanded base, AS kept, FROM stage untouched",
		in: "ARG V=1.25\n" +
			"FROM golang:${V}-alpine AS b\n" +
			"RUN go version\n" +
			"FROM b\n" +
			"RUN echo from b\n",
		want: "ARG V=1.25\n" +
			"FROM ⟨golang:1.25-alpine⟩ AS b\n" +
			"RUN go version\n" +
			"FROM b\n" +
			"RUN echo from b\n",
	},
	{
		name: "build argument overrides the ARG",
		in: "ARG V=1.25\n" +
			"FROM golang:${V}-alpine AS b\n",
		opts: Options{BuildArgs: map[string]string{"V": "1.26"}},
		want: "ARG V=1.25\n" +
			"FROM ⟨golang:1.26-alpine⟩ AS b\n",
	},
	{
		name: "FROM --platform kept",
		in: "FROM --platform=$BUILDPLATFORM golang:1.25 AS build\n" +
			"RUN go build\n" +
			"FROM   --platform=linux/arm64   alpine:3.20   as   run\n" +
			"COPY --from=build /out /out\n",
		want: "FROM --platform=$BUILDPLATFORM ⟨golang:1.25⟩ AS build\n" +
			"RUN go build\n" +
			"FROM   --platform=linux/arm64   ⟨alpine:3.20⟩   as   run\n" +
			"COPY --from=build /out /out\n",
	},
	{
		name: "scratch, stages and stage index untouched",
		in: "FROM alpine:3.20 AS base\n" +
			"RUN echo base\n" +
			"FROM base AS x\n" +
			"FROM scratch\n" +
			"COPY --from=x /a /a\n" +
			"COPY --from=0 /b /b\n" +
			"COPY --from=base /c /c\n",
		want: "FROM ⟨alpine:3.20⟩ AS base\n" +
			"RUN echo base\n" +
			"FROM base AS x\n" +
			"FROM scratch\n" +
			"COPY --from=x /a /a\n" +
			"COPY --from=0 /b /b\n" +
			"COPY --from=base /c /c\n",
	},
	{
		name: "COPY --from image rewritten, stage untouched, other flags kept",
		in: "FROM golang:1.25 AS builder\n" +
			"FROM alpine\n" +
			"COPY --chown=1:1 --from=nginx:1.27 --link /etc/nginx /etc/nginx\n" +
			"COPY --from=builder /out /out\n" +
			"COPY --from=docker.io/library/nginx:1.27 /x /x\n",
		want: "FROM ⟨golang:1.25⟩ AS builder\n" +
			"FROM ⟨alpine:latest⟩\n" +
			"COPY --chown=1:1 --from=⟨nginx:1.27⟩ --link /etc/nginx /etc/nginx\n" +
			"COPY --from=builder /out /out\n" +
			"COPY --from=⟨nginx:1.27⟩ /x /x\n",
	},
	{
		name: "RUN --mount from image rewritten, from stage and cache mounts untouched",
		in: "FROM golang:1.25 AS builder\n" +
			"FROM alpine:3.20\n" +
			"RUN --mount=type=bind,from=golang:1.25,target=/x ls /x\n" +
			"RUN --mount=type=cache,target=/root/.cache --mount=type=bind,from=builder,target=/src --mount=from=quay.io/org/tools:2,type=bind,target=/t true\n",
		want: "FROM ⟨golang:1.25⟩ AS builder\n" +
			"FROM ⟨alpine:3.20⟩\n" +
			"RUN --mount=type=bind,from=⟨golang:1.25⟩,target=/x ls /x\n" +
			"RUN --mount=type=cache,target=/root/.cache --mount=type=bind,from=builder,target=/src --mount=from=⟨quay.io/org/tools:2⟩,type=bind,target=/t true\n",
	},
	{
		name: "quoted mount flag",
		in: "FROM alpine:3.20\n" +
			"RUN --mount=\"type=bind,from=busybox:1.36,target=/x y\" ls\n",
		want: "FROM ⟨alpine:3.20⟩\n" +
			"RUN --mount=\"type=bind,from=⟨busybox:1.36⟩,target=/x y\" ls\n",
	},
	{
		name: "heredoc bodies untouched",
		in: "FROM golang:1.25 AS b\n" +
			"RUN --mount=type=bind,from=golang:1.25,target=/g <<EOF\n" +
			"echo FROM golang:1.25\n" +
			"echo --from=golang:1.25 --mount=type=bind,from=golang:1.25\n" +
			"EOF\n" +
			"COPY <<EOF /etc/conf\n" +
			"FROM golang:1.25\n" +
			"COPY --from=golang:1.25 / /\n" +
			"EOF\n" +
			"RUN <<-A cat && <<B cat\n" +
			"\tFROM golang:1.25 AS x\n" +
			"\tA\n" +
			"FROM golang:1.25\n" +
			"B\n" +
			"COPY --from=nginx:1.27 / /\n",
		want: "FROM ⟨golang:1.25⟩ AS b\n" +
			"RUN --mount=type=bind,from=⟨golang:1.25⟩,target=/g <<EOF\n" +
			"echo FROM golang:1.25\n" +
			"echo --from=golang:1.25 --mount=type=bind,from=golang:1.25\n" +
			"EOF\n" +
			"COPY <<EOF /etc/conf\n" +
			"FROM golang:1.25\n" +
			"COPY --from=golang:1.25 / /\n" +
			"EOF\n" +
			"RUN <<-A cat && <<B cat\n" +
			"\tFROM golang:1.25 AS x\n" +
			"\tA\n" +
			"FROM golang:1.25\n" +
			"B\n" +
			"COPY --from=⟨nginx:1.27⟩ / /\n",
	},
	{
		name: "continuation lines, comments and a word split over lines",
		in: "FROM \\\n" +
			"  --platform=linux/amd64 \\\n" +
			"# a comment between continuation lines\n" +
			"\n" +
			"  golang:1.25 \\\n" +
			"  AS b\n" +
			"RUN --mount=type=bind,\\\n" +
			"from=alpine:3.20,target=/x \\\n" +
			"    ls /x && \\\n" +
			"    echo FROM golang:1.25\n" +
			"COPY \\\n" +
			"  --from=nginx:1.27 \\\n" +
			"  /a /a\n",
		want: "FROM \\\n" +
			"  --platform=linux/amd64 \\\n" +
			"# a comment between continuation lines\n" +
			"\n" +
			"  ⟨golang:1.25⟩ \\\n" +
			"  AS b\n" +
			"RUN --mount=type=bind,from=⟨alpine:3.20⟩,target=/x\\\n" +
			" \\\n" +
			"    ls /x && \\\n" +
			"    echo FROM golang:1.25\n" +
			"COPY \\\n" +
			"  --from=⟨nginx:1.27⟩ \\\n" +
			"  /a /a\n",
	},
	{
		name: "escape directive",
		in: "# escape=`\n" +
			"FROM golang:1.25 AS b\n" +
			"RUN --mount=type=bind,from=alpine:3.20,target=/x `\n" +
			"  dir C:\\x\n",
		want: "# escape=`\n" +
			"FROM ⟨golang:1.25⟩ AS b\n" +
			"RUN --mount=type=bind,from=⟨alpine:3.20⟩,target=/x `\n" +
			"  dir C:\\x\n",
	},
	{
		name: "syntax directive",
		in: "# syntax=docker/dockerfile:1.7\n" +
			"# escape=\\\n" +
			"FROM alpine:3.20\n",
		want: "# syntax=⟨docker/dockerfile:1.7⟩\n" +
			"# escape=\\\n" +
			"FROM ⟨alpine:3.20⟩\n",
	},
	{
		name: "syntax directive with spaces and options",
		in: "#!/usr/bin/env buildctl\n" +
			"#  syntax = docker/dockerfile:1  \n" +
			"FROM alpine:3.20\n",
		want: "#!/usr/bin/env buildctl\n" +
			"#  syntax = ⟨docker/dockerfile:1⟩  \n" +
			"FROM ⟨alpine:3.20⟩\n",
	},
	{
		name: "syntax from BUILDKIT_SYNTAX leaves the directive",
		in: "# syntax=docker/dockerfile:1.7\n" +
			"FROM alpine:3.20\n",
		opts: Options{BuildArgs: map[string]string{"BUILDKIT_SYNTAX": "docker/dockerfile:1.8"}},
		want: "# syntax=docker/dockerfile:1.7\n" +
			"FROM ⟨alpine:3.20⟩\n",
	},
	{
		name: "ONBUILD trigger",
		in: "FROM alpine:3.20 AS base\n" +
			"ONBUILD COPY --from=nginx:1.27 /etc/nginx /etc/nginx\n" +
			"ONBUILD RUN --mount=type=bind,from=busybox:1.36,target=/b ls /b\n" +
			"FROM base\n",
		want: "FROM ⟨alpine:3.20⟩ AS base\n" +
			"ONBUILD COPY --from=⟨nginx:1.27⟩ /etc/nginx /etc/nginx\n" +
			"ONBUILD RUN --mount=type=bind,from=⟨busybox:1.36⟩,target=/b ls /b\n" +
			"FROM base\n",
	},
	{
		name: "unused stage without a pin stays as written",
		in: "FROM alpine:3.20 AS run\n" +
			"FROM debian:12 AS unused\n" +
			"COPY --from=nginx:1.27 / /\n",
		opts: Options{Target: "run"},
		want: "FROM ⟨alpine:3.20⟩ AS run\n" +
			"FROM debian:12 AS unused\n" +
			"COPY --from=nginx:1.27 / /\n",
	},
	{
		name: "CRLF and byte-order mark",
		in: "\ufeffFROM golang:1.25 AS b\r\n" +
			"RUN --mount=type=bind,from=alpine:3.20,target=/x \\\r\n" +
			"  ls /x\r\n" +
			"FROM b\r\n" +
			"COPY --from=nginx:1.27 / /\r\n",
		want: "\ufeffFROM ⟨golang:1.25⟩ AS b\r\n" +
			"RUN --mount=type=bind,from=⟨alpine:3.20⟩,target=/x \\\r\n" +
			"  ls /x\r\n" +
			"FROM b\r\n" +
			"COPY --from=⟨nginx:1.27⟩ / /\r\n",
	},
	{
		name: "byte-order mark before the syntax directive",
		in: "\ufeff# syntax=docker/dockerfile:1\r\n" +
			"FROM alpine:3.20\r\n",
		want: "\ufeff# syntax=⟨docker/dockerfile:1⟩\r\n" +
			"FROM ⟨alpine:3.20⟩\r\n",
	},
	{
		name: "digest-pinned upstream reference",
		in: "FROM alpine:3.20@" + testDigest + " AS a\n" +
			"FROM redis@" + testDigest + "\n" +
			"COPY --from=a / /\n",
		want: "FROM ⟨alpine:3.20@" + testDigest + "⟩ AS a\n" +
			"FROM ⟨redis@" + testDigest + "⟩\n" +
			"COPY --from=a / /\n",
	},
	{
		name:   "missing pin",
		in:     "FROM golang:1.25 AS b\nCOPY --from=nginx:1.27 / /\n",
		unpin:  []string{"docker.io/library/nginx:1.27"},
		errSub: "no pinned reference to build from for docker.io/library/nginx:1.27 (src/web/Dockerfile#COPY --from)",
	},
	{
		name:   "missing syntax pin",
		in:     "# syntax=docker/dockerfile:1\nFROM alpine:3.20\n",
		unpin:  []string{"docker.io/docker/dockerfile:1"},
		errSub: "no pinned reference to build from for docker.io/docker/dockerfile:1 (src/web/Dockerfile#syntax)",
	},
}

func TestRewrite(t *testing.T) {
	for _, tt := range rewriteTests {
		t.Run(tt.name, func(t *testing.T) {
			const name = "src/web/Dockerfile"
			opts := tt.opts
			opts.Path = name
			scan, err := Scan([]byte(tt.in), opts)
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			pins := pinsFor(scan)
			for _, r := range tt.unpin {
				if _, ok := pins[r]; !ok {
					t.Fatalf("the scan has no %s to unpin: %v", r, scan)
				}
				delete(pins, r)
			}
			out, err := Rewrite([]byte(tt.in), scan, name, pins)
			if tt.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("Rewrite error = %v, want it to contain %q", err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			if want := expandPins(t, tt.want); string(out) != want {
				t.Fatalf("Rewrite =\n%s\nwant\n%s", out, want)
			}
			checkRescan(t, out, opts, scan, pins)
		})
	}
}

// checkRescan scans the rewritten Dockerfile with the same options and
// checks that it finds the same places, each now naming its pin.
func checkRescan(t *testing.T, out []byte, opts Options, scan []Found, pins map[string]string) {
	t.Helper()
	if v, ok := opts.BuildArgs[SyntaxArg]; ok {
		// The builders set BUILDKIT_SYNTAX to the pin themselves.
		ref := imageref.MustParse(v)
		opts.BuildArgs = map[string]string{SyntaxArg: pins[ref.String()]}
	}
	rescan, err := Scan(out, opts)
	if err != nil {
		t.Fatalf("Scan of the rewritten Dockerfile: %v\n%s", err, out)
	}
	want := make(map[string]bool)
	for _, f := range scan {
		want[f.Locator+" "+imageref.MustParse(pins[f.Ref.String()]).String()] = true
	}
	got := make(map[string]bool)
	for _, f := range rescan {
		got[f.Locator+" "+f.Ref.String()] = true
		if !want[f.Locator+" "+f.Ref.String()] {
			t.Errorf("the rewritten Dockerfile uses %s at %s, which is no pin of the scan", f.Ref, f.Locator)
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("the rewritten Dockerfile lacks %s", k)
		}
	}
}

func TestRewriteRefusesAScanOfAnotherDockerfile(t *testing.T) {
	const name = "Dockerfile"
	scan, err := Scan([]byte("FROM alpine:3.20\nCOPY --from=nginx:1.27 / /\n"), Options{Path: name})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Rewrite([]byte("FROM alpine:3.20\n"), scan, name, pinsFor(scan))
	if err == nil || !strings.Contains(err.Error(), "docker.io/library/nginx:1.27 (Dockerfile#COPY --from) is not in the Dockerfile") {
		t.Fatalf("Rewrite error = %v", err)
	}
}

func TestRewriteRefusesAnInvalidPin(t *testing.T) {
	const name = "Dockerfile"
	in := []byte("FROM alpine:3.20\n")
	scan, err := Scan(in, Options{Path: name})
	if err != nil {
		t.Fatal(err)
	}
	for _, pin := range []string{"127.0.0.1:5000/team/alpine:$TAG", "has space", "127.0.0.1:5000/Team/alpine:1"} {
		_, err = Rewrite(in, scan, name, map[string]string{"docker.io/library/alpine:3.20": pin})
		if err == nil || !strings.Contains(err.Error(), "is not a valid image reference") {
			t.Errorf("pin %q: Rewrite error = %v", pin, err)
		}
	}
}

func TestRewriteUnusedStageWithAPin(t *testing.T) {
	// A reference the scan does not list is rewritten when it has a pin.
	const name = "Dockerfile"
	in := "FROM alpine:3.20 AS run\nFROM debian:12 AS unused\nCOPY --from=alpine:3.20 / /\n"
	scan, err := Scan([]byte(in), Options{Path: name, Target: "run"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Rewrite([]byte(in), scan, name, pinsFor(scan))
	if err != nil {
		t.Fatal(err)
	}
	want := expandPins(t, "FROM ⟨alpine:3.20⟩ AS run\nFROM debian:12 AS unused\nCOPY --from=⟨alpine:3.20⟩ / /\n")
	if string(out) != want {
		t.Fatalf("Rewrite =\n%s\nwant\n%s", out, want)
	}
}

// TestRewriteExamples rewrites the example stack's Dockerfiles for each
// of their stages.
func TestRewriteExamples(t *testing.T) {
	examples := exampleDockerfiles(t)
	if len(examples) == 0 {
		t.Skip("no example Dockerfiles")
	}
	for _, file := range slices.Sorted(maps.Keys(examples)) {
		data := examples[file]
		targets := []string{""}
		if res, err := parser.Parse(bytes.NewReader(data)); err == nil {
			if stages, _, err := instructions.Parse(res.AST, nil); err == nil {
				for _, st := range stages {
					if st.Name != "" {
						targets = append(targets, st.Name)
					}
				}
			}
		}
		for _, target := range targets {
			t.Run(file+"@"+target, func(t *testing.T) {
				opts := Options{Path: file, Target: target}
				scan, err := Scan(data, opts)
				if err != nil {
					t.Skipf("the scan refuses it: %v", err)
				}
				pins := pinsFor(scan)
				out, err := Rewrite(data, scan, file, pins)
				if err != nil {
					t.Fatal(err)
				}
				checkRescan(t, out, opts, scan, pins)
			})
		}
	}
}

// rewriteSeeds are FuzzRewrite's seeds.
var rewriteSeeds = []struct{ in, target string }{
	{"ARG V=1.25\nFROM golang:${V}-alpine AS b\nRUN --mount=type=bind,from=alpine,target=/x \\\n  ls\nFROM b\nCOPY --from=nginx / /\n", ""},
	{"# syntax=docker/dockerfile:1\n\ufeffFROM --platform=$BUILDPLATFORM alpine AS a\r\nONBUILD COPY --from=busybox / /\r\nFROM a\r\n", "a"},
	{"# escape=`\nFROM alpine AS a\nRUN <<EOF `\n  --mount=from=nginx,target=/n cat\nFROM x\nEOF\nFROM a\n", ""},
}

// exampleDockerfiles are the Dockerfiles of the example stack.
func exampleDockerfiles(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob("../../examples/*/src/*/Dockerfile*")
	if err != nil {
		tb.Fatal(err)
	}
	more, _ := filepath.Glob("../../examples/*/src/*/*/Dockerfile*")
	out := make(map[string][]byte)
	for _, file := range append(files, more...) {
		data, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		out[file] = data
	}
	return out
}

// FuzzRewrite checks that whatever Scan accepts, Rewrite
// rewrites so that a new scan finds exactly the pins.
func FuzzRewrite(f *testing.F) {
	for _, seed := range rewriteSeeds {
		f.Add([]byte(seed.in), seed.target)
	}
	for _, data := range exampleDockerfiles(f) {
		f.Add(data, "")
	}
	f.Fuzz(func(t *testing.T, data []byte, target string) {
		opts := Options{Path: "Dockerfile", Target: target}
		scan, err := Scan(data, opts)
		if err != nil {
			return
		}
		pins := pinsFor(scan)
		out, err := Rewrite(data, scan, "Dockerfile", pins)
		if err != nil {
			// Only a syntax directive in another form than "# syntax="
			// may be refused.
			if !strings.Contains(err.Error(), "cannot rewrite the syntax directive") {
				t.Fatalf("Rewrite: %v", err)
			}
			t.Skipf("Rewrite: %v", err)
		}
		checkRescan(t, out, opts, scan, pins)
	})
}

func TestRewriteRefusesAPlatformDependentBase(t *testing.T) {
	const name = "Dockerfile"
	in := []byte("FROM golang:1.25-${TARGETARCH}\n")
	var scan []Found
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		s, err := Scan(in, Options{Path: name, Platform: p})
		if err != nil {
			t.Fatal(err)
		}
		scan = append(scan, s...)
	}
	_, err := Rewrite(in, scan, name, pinsFor(scan))
	if err == nil || !strings.Contains(err.Error(), "the base of FROM 0 is docker.io/library/golang:1.25-amd64 on one platform and docker.io/library/golang:1.25-arm64 on another") {
		t.Fatalf("Rewrite error = %v", err)
	}
}
func TestContextName(t *testing.T) {
	for ref, want := range map[string]string{
		"docker.io/library/golang:1.25-alpine":     "golang:1.25-alpine",
		"docker.io/library/alpine:latest":          "alpine",
		"docker.io/bitnami/redis:7":                "bitnami/redis:7",
		"docker.io/team/app:latest":                "team/app",
		"quay.io/org/tools:2":                      "quay.io/org/tools:2",
		"127.0.0.1:5000/team/app:latest":           "127.0.0.1:5000/team/app",
		"docker.io/library/redis:7@" + testDigest:  "redis:7@" + testDigest,
		"docker.io/library/nginx@" + testDigest:    "nginx@" + testDigest,
		"ghcr.io/owner/image:latest@" + testDigest: "ghcr.io/owner/image:latest@" + testDigest,
		"docker.io/library/ubuntu:latest-but-not":  "ubuntu:latest-but-not",
		"docker.io/docker/dockerfile:1.7":          "docker/dockerfile:1.7",
		"registry.example.com:8443/a/b/c:1.0-rc1":  "registry.example.com:8443/a/b/c:1.0-rc1",
	} {
		got, err := contextName(ref)
		if err != nil || got != want {
			t.Errorf("contextName(%q) = %q, %v, want %q", ref, got, err, want)
		}
	}
}

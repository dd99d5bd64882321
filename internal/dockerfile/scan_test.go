package dockerfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/imageref"
)

func TestScan(t *testing.T) {
	for _, tt := range dfTests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Path = dfPath
			got, err := Scan([]byte(tt.in), opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q (found %v)", err, tt.wantErr, got)
				}
				checkError(t, err, tt.template, tt.is)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gotS []string
			for _, f := range got {
				loc, ok := strings.CutPrefix(f.Locator, dfPath+"#")
				if !ok {
					t.Errorf("locator %q lacks the %q prefix", f.Locator, dfPath+"#")
				}
				gotS = append(gotS, f.Ref.String()+" "+loc)
			}
			if !slices.Equal(gotS, tt.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(gotS, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// checkError checks that err is an *Error marked Template as want, and
// that it wraps is, if set.
func checkError(t *testing.T, err error, template bool, is error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is no *Error", err, err)
	}
	if e.Path != dfPath {
		t.Errorf("Error.Path = %q, want %q", e.Path, dfPath)
	}
	if e.Template != template {
		t.Errorf("Error.Template = %v, want %v", e.Template, template)
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("error %v does not wrap %v", err, is)
	}
}

// TestScanMountTypeStable: BuildKit suggests a mount type among
// equally close ones in map order (a fuzz finding); the error drops it.
func TestScanMountTypeStable(t *testing.T) {
	want := dfPath + `:2: RUN --mount: unsupported mount type "cah"`
	for range 20 {
		_, err := Scan([]byte("FROM a\nRUN --mount=type=cah true\n"), Options{Path: dfPath})
		if err == nil || err.Error() != want {
			t.Fatalf("error = %v, want %q", err, want)
		}
	}
}

// FuzzScan checks that no input makes Scan panic, that
// it is deterministic, and that every reference it returns is canonical.
func FuzzScan(f *testing.F) {
	for _, tt := range dfTests {
		f.Add([]byte(tt.in), tt.opts.Target, "3.20")
	}
	f.Fuzz(func(t *testing.T, data []byte, target, arg string) {
		opts := Options{
			Path:          "Dockerfile",
			Target:        target,
			BuildArgs:     map[string]string{"V": arg, "PG": arg},
			NamedContexts: map[string]imageref.Ref{"ctx": imageref.MustParse("alpine:3.20")},
			LocalContexts: map[string]bool{"local": true},
		}
		got, err := Scan(data, opts)
		again, err2 := Scan(data, opts)
		if fmt.Sprint(got, err) != fmt.Sprint(again, err2) {
			t.Fatalf("not deterministic: %v, %v then %v, %v", got, err, again, err2)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "Dockerfile:") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, fd := range got {
			r, err := imageref.Parse(fd.Ref.String())
			if err != nil {
				t.Fatalf("%s (%s) does not re-parse: %v", fd.Ref, fd.Locator, err)
			}
			if r != fd.Ref {
				t.Fatalf("%s re-parses as %s", fd.Ref, r)
			}
			if !strings.HasPrefix(fd.Locator, "Dockerfile#") {
				t.Fatalf("bad locator %q", fd.Locator)
			}
		}
	})
}

// benchDockerfile is a realistic multi-stage Dockerfile: syntax directive,
// meta ARGs, cross-platform build stages, cache and bind mounts, heredocs.
const benchDockerfile = `# syntax=docker/dockerfile:1.7
ARG GO_VERSION=1.25
ARG NODE_VERSION=22
ARG ALPINE_VERSION=3.20

FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-alpine AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY web/ ./
RUN npm run build

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=bind,source=go.mod,target=go.mod \
    --mount=type=bind,source=go.sum,target=go.sum \
    go mod download
COPY . .
COPY --from=web /web/dist ./internal/web/dist
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app ./cmd/app

FROM build AS test
RUN --mount=type=bind,from=postgres:17-alpine,source=/usr/local/bin,target=/pg go test ./...

FROM alpine:${ALPINE_VERSION} AS certs
RUN apk add --no-cache ca-certificates tzdata

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=certs /etc/ssl/certs /etc/ssl/certs
COPY --from=certs /usr/share/zoneinfo /usr/share/zoneinfo
COPY --from=build /out/app /app
COPY --from=ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.37 /ko-app/grpc-health-probe /bin/grpc_health_probe
COPY <<EOF /etc/app.yaml
listen: :8080
EOF
USER nonroot
ENTRYPOINT ["/app"]
`

func BenchmarkScan(b *testing.B) {
	data := []byte(benchDockerfile)
	opts := Options{Path: "Dockerfile", Platform: "linux/arm64", BuildArgs: map[string]string{"GO_VERSION": "1.25.1"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Scan(data, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUnsetNamed: the error of a FROM using unset build arguments lists
// them, so that init can propose build_args for exactly those.
func TestUnsetNamed(t *testing.T) {
	_, err := Scan([]byte("ARG REGISTRY\nARG TAG\nFROM ${REGISTRY}/base:${TAG}\nFROM ${BASE:-alpine}\n"), Options{Path: "Dockerfile", AllStages: true})
	e, ok := errors.AsType[*Error](err)
	if !ok || !errors.Is(err, ErrUnsetArg) || strings.Join(e.Unset, ",") != "REGISTRY,TAG" {
		t.Fatalf("Scan: %v (%#v)", err, e)
	}
	if _, err := Scan([]byte("ARG REGISTRY\nFROM ${REGISTRY}/base\n"), Options{Path: "Dockerfile", BuildArgs: map[string]string{"REGISTRY": "r.example.com"}}); err != nil {
		t.Errorf("with the argument given: %v", err)
	}
}

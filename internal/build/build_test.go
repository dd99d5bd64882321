package build

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/imagesync/imagesync/internal/dockerfile"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testDigest is the digest of every test pin.
const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// pinsFor pins each reference of a scan to a copy in the team's registry
// named after its last path element and tag, at testDigest.
func pinsFor(scan []dockerfile.Found) map[string]string {
	pins := make(map[string]string, len(scan))
	for _, f := range scan {
		name := path.Base(f.Ref.Path())
		if f.Ref.Tag() != "" {
			name += ":" + f.Ref.Tag()
		}
		pins[f.Ref.String()] = "127.0.0.1:5000/team/" + name + "@" + testDigest
	}
	return pins
}

// testDockerfile uses every kind of base: syntax, an ARG-expanded FROM
// with --platform, RUN --mount from an image, COPY --from a stage and an
// image, and an implicit :latest.
const testDockerfile = `# syntax=docker/dockerfile:1.7
ARG GO=1.25
FROM --platform=$BUILDPLATFORM golang:${GO}-alpine AS build
RUN --mount=type=bind,from=quay.io/org/tools:2,target=/t go build -o /out ./...
FROM alpine
COPY --from=build /out /out
COPY --from=nginx:1.27 /etc/nginx /etc/nginx
`

// testRequest is a request for testDockerfile.
func testRequest(t *testing.T, platforms ...string) Request {
	t.Helper()
	const name = "src/web/Dockerfile"
	args := map[string]string{"GO": "1.25", "HTTP_PROXY": "http://proxy:3128"}
	platform := ""
	if len(platforms) > 0 {
		platform = platforms[0]
	}
	scan, err := dockerfile.Scan([]byte(testDockerfile), dockerfile.Options{Path: name, BuildArgs: args, Platform: platform})
	if err != nil {
		t.Fatal(err)
	}
	return Request{
		Service:        "web",
		ContextDir:     "/repo/src/web",
		Dockerfile:     []byte(testDockerfile),
		DockerfileName: name,
		Args:           args,
		Platforms:      platforms,
		Labels:         map[string]string{"io.imagesync.inputs": "sha256:1111111111111111111111111111111111111111111111111111111111111111", "org.opencontainers.image.title": "web app"},
		Tag:            "127.0.0.1:5000/team/web:v1",
		Pins:           pinsFor(scan),
		Scan:           scan,
	}
}

// recorder is a runFunc that records command lines and plays the builder:
// it writes the files the builder would write and answers buildah's
// cleanup queries.
type recorder struct {
	mu       sync.Mutex
	commands []string
	files    map[string][]byte // the Dockerfile each build read, by command index
	fail     func(args []string) error
	output   string // written by every build command
}

const (
	pushedDigest   = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	instanceDigest = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
)

func (r *recorder) run(_ context.Context, name string, args []string, dir string, out io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commands = append(r.commands, formatCommand(name, args, dir))
	if r.fail != nil {
		if err := r.fail(args); err != nil {
			io.WriteString(out, r.output)
			return err
		}
	}
	flagValue := func(flag string) string {
		for i, a := range args {
			if a == flag && i+1 < len(args) {
				return args[i+1]
			}
		}
		return ""
	}
	sub := strings.Join(subcommand(args), " ")
	switch {
	case sub == "buildx build" || sub == "build":
		f := flagValue("--file")
		if f == "" {
			f = flagValue("-f")
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if r.files == nil {
			r.files = make(map[string][]byte)
		}
		r.files[sub] = data
		io.WriteString(out, r.output)
		if m := flagValue("--metadata-file"); m != "" {
			return os.WriteFile(m, []byte(`{"buildx.build.ref": "x", "containerd.image.digest": "`+pushedDigest+`"}`), 0o600)
		}
	case sub == "push" || sub == "manifest push":
		return os.WriteFile(flagValue("--digestfile"), []byte(pushedDigest+"\n"), 0o600)
	case sub == "manifest inspect":
		fmt.Fprintf(out, `{"schemaVersion": 2, "manifests": [{"digest": %q}, {"digest": "sha256:4444444444444444444444444444444444444444444444444444444444444444"}]}`, instanceDigest)
	case sub == "images":
		fmt.Fprintf(out, "sha256:aaaa   %s\nsha256:bbbb   sha256:5555555555555555555555555555555555555555555555555555555555555555\nsha256:cccc   sha256:4444444444444444444444444444444444444444444444444444444444444444\n", instanceDigest)
	}
	return nil
}

// subcommand is the command words of args after buildah's global flags.
func subcommand(args []string) []string {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "--") {
		i += 2 // --storage-driver vfs
	}
	var words []string
	for ; i < len(args) && !strings.HasPrefix(args[i], "-") && len(words) < 2; i++ {
		words = append(words, args[i])
		if args[i] != "manifest" && args[i] != "buildx" {
			break
		}
	}
	return words
}

var localNameRE = regexp.MustCompile(`localhost/imagesync-build:[0-9a-f]{16}`)

// formatCommand writes a command line readably and without what changes
// from run to run: the temporary directory is $TMP, the local image name
// LOCAL. Each flag starts a new line.
func formatCommand(name string, args []string, dir string) string {
	var b strings.Builder
	if dir != "" {
		fmt.Fprintf(&b, "(in $TMP) ")
	}
	b.WriteString(name)
	for _, a := range args {
		if dir != "" {
			a = strings.ReplaceAll(a, dir, "$TMP")
		}
		a = localNameRE.ReplaceAllString(a, "LOCAL")
		if strings.HasPrefix(a, "-") {
			b.WriteString(" \\\n   ")
		}
		b.WriteString(" " + shellQuote(a))
	}
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\`{}*?;&|<>()#") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// checkGolden compares got with testdata/name, or writes it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/build -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test ./internal/build -run %s -update to accept):\ngot:\n%s\nwant:\n%s", path, t.Name(), got, want)
	}
}

// No Docker engine runs where these tests run, so the buildx builder is
// tested through the exact command lines it runs, kept as golden files.
func TestBuildxGolden(t *testing.T) {
	tests := []struct {
		golden    string
		platforms []string
		target    string
		insecure  bool
		extra     []string
	}{
		{golden: "buildx-single.golden", platforms: []string{"linux/amd64"}},
		{golden: "buildx-multi.golden", platforms: []string{"linux/amd64", "linux/arm64"}, target: "", extra: []string{"--builder", "ci"}},
		{golden: "buildx-insecure-target.golden", target: "build", insecure: true},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			rec := &recorder{output: "#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s\n"}
			b, err := New(Buildx, withRunner(rec.run), WithExtraArgs(tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			req := testRequest(t, tt.platforms...)
			if tt.target != "" {
				req.Target = tt.target
				scan, err := dockerfile.Scan(req.Dockerfile, dockerfile.Options{Path: req.DockerfileName, BuildArgs: req.Args, Target: tt.target})
				if err != nil {
					t.Fatal(err)
				}
				req.Scan, req.Pins = scan, pinsFor(scan)
			}
			req.Insecure = tt.insecure
			var out bytes.Buffer
			req.Output = &out
			d, err := b.Build(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if d != pushedDigest {
				t.Errorf("digest = %s, want %s (from the metadata file)", d, pushedDigest)
			}
			if got := string(rec.files["buildx build"]); got != testDockerfile {
				t.Errorf("buildx built\n%s\nwant the Dockerfile as written", got)
			}
			if want := "web | #1 [internal] load build definition from Dockerfile\nweb | #1 DONE 0.0s\n"; out.String() != want {
				t.Errorf("output = %q, want %q", out.String(), want)
			}
			checkGolden(t, tt.golden, strings.Join(rec.commands, "\n\n")+"\n")
		})
	}
}

func TestBuildahGolden(t *testing.T) {
	tests := []struct {
		golden    string
		platforms []string
		insecure  bool
		opts      []Option
	}{
		{golden: "buildah-single.golden", platforms: []string{"linux/amd64"}, insecure: true,
			opts: []Option{withStorageDriver("vfs"), withIsolation("chroot")}},
		{golden: "buildah-multi.golden", platforms: []string{"linux/amd64", "linux/arm64"},
			opts: []Option{withStorageDriver("vfs"), withIsolation("chroot"), WithExtraArgs([]string{"--jobs", "2"})}},
		{golden: "buildah-own-config.golden",
			opts: []Option{withStorageDriver(""), withIsolation(""), withBinary("/opt/bin/buildah")}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			rec := &recorder{output: "STEP 1/7: FROM x\n"}
			b, err := New(Buildah, append(tt.opts, withRunner(rec.run))...)
			if err != nil {
				t.Fatal(err)
			}
			req := testRequest(t, tt.platforms...)
			req.Insecure = tt.insecure
			d, err := b.Build(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if d != pushedDigest {
				t.Errorf("digest = %s, want %s (from the digest file)", d, pushedDigest)
			}
			want, err := dockerfile.Rewrite(req.Dockerfile, req.Scan, req.DockerfileName, req.Pins)
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.files["build"]; !bytes.Equal(got, want) {
				t.Errorf("buildah built\n%s\nwant the rewritten Dockerfile\n%s", got, want)
			}
			checkGolden(t, tt.golden, strings.Join(rec.commands, "\n\n")+"\n")
		})
	}
}

func TestBuildFailureKeepsTheLastLines(t *testing.T) {
	for _, kind := range []Kind{Buildah, Buildx} {
		t.Run(string(kind), func(t *testing.T) {
			var lines strings.Builder
			for i := 1; i <= 30; i++ {
				fmt.Fprintf(&lines, "line %d\r\n", i)
			}
			lines.WriteString("no newline at the end")
			rec := &recorder{output: lines.String(), fail: func(args []string) error {
				if s := subcommand(args); len(s) > 0 && (s[0] == "build" || s[0] == "buildx") {
					return errors.New("exit status 1")
				}
				return nil
			}}
			b, err := New(kind, withRunner(rec.run))
			if err != nil {
				t.Fatal(err)
			}
			req := testRequest(t)
			var out bytes.Buffer
			req.Output = &out
			_, err = b.Build(context.Background(), req)
			var be *buildError
			if !errors.As(err, &be) {
				t.Fatalf("Build error = %v, want a *buildError", err)
			}
			if be.Service != "web" || len(be.Output) != tailLines || be.Output[0] != "line 12" || be.Output[tailLines-1] != "no newline at the end" {
				t.Errorf("Error = %+v", be)
			}
			msg := err.Error()
			// The caller names the service (apply: "build web: ..."), once.
			if want := be.Command + " failed: exit status 1; last output lines:\n"; !strings.HasPrefix(msg, want) {
				t.Errorf("error %q does not start with %q", msg, want)
			}
			for _, want := range []string{"web | line 12\n", "web | no newline at the end"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, "line 11\n") {
				t.Errorf("error %q keeps more than %d lines", msg, tailLines)
			}
			if !strings.HasPrefix(out.String(), "web | line 1\nweb | line 2\n") || !strings.HasSuffix(out.String(), "web | line 30\nweb | no newline at the end\n") {
				t.Errorf("output = %q", out.String())
			}
			if len(rec.commands) != 1 {
				t.Errorf("ran more than the build (nothing to push, nothing to clean up):\n%s", strings.Join(rec.commands, "\n"))
			}
		})
	}
}

func TestBuildRefusesAMissingPinBeforeRunning(t *testing.T) {
	for _, kind := range []Kind{Buildah, Buildx} {
		t.Run(string(kind), func(t *testing.T) {
			rec := &recorder{}
			b, err := New(kind, withRunner(rec.run))
			if err != nil {
				t.Fatal(err)
			}
			req := testRequest(t)
			delete(req.Pins, "docker.io/library/nginx:1.27")
			_, err = b.Build(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), "no pinned reference to build from for docker.io/library/nginx:1.27 (src/web/Dockerfile#COPY --from)") {
				t.Fatalf("Build error = %v", err)
			}
			if len(rec.commands) != 0 {
				t.Errorf("ran %q", rec.commands)
			}
		})
	}
}

func TestBuildxRefusesAStageNamedLikeAContext(t *testing.T) {
	df := "FROM alpine AS base\nFROM alpine:3.20 AS alpine\nCOPY --from=base / /\n"
	scan, err := dockerfile.Scan([]byte(df), dockerfile.Options{Path: "Dockerfile"})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	b, _ := New(Buildx, withRunner(rec.run))
	_, err = b.Build(context.Background(), Request{
		Service: "web", ContextDir: "/repo", Dockerfile: []byte(df), DockerfileName: "Dockerfile",
		Tag: "127.0.0.1:5000/team/web:v1", Scan: scan, Pins: pinsFor(scan),
	})
	if err == nil || !strings.Contains(err.Error(), `Dockerfile:2: the stage "alpine" has the name BuildKit gives the image context of alpine`) {
		t.Fatalf("Build error = %v", err)
	}
}

const hex64 = "abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd"

func TestCheck(t *testing.T) {
	b, err := New(Buildah, withBinary("/nonexistent/buildah"))
	if err != nil {
		t.Fatal(err)
	}
	err = b.Check(context.Background())
	if err == nil || err.Error() != "buildah not found: install it or set builder.kind" {
		t.Errorf("Check() = %v", err)
	}
	if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("Check() = %v does not wrap the lookup error", err)
	}
	var nf *notFoundError
	if !errors.As(err, &nf) {
		t.Errorf("Check() = %T, want *notFoundError", err)
	}

	b, _ = New(Buildx, withBinary("/nonexistent/docker"))
	if err := b.Check(context.Background()); err == nil || err.Error() != "docker not found: install it or set builder.kind" {
		t.Errorf("buildx Check() = %v", err)
	}

	// The executable exists but cannot do the job.
	fail := func(_ context.Context, _ string, _ []string, _ string, out io.Writer) error {
		io.WriteString(out, "docker: 'buildx' is not a docker command.\n")
		return errors.New("exit status 1")
	}
	b, _ = New(Buildx, withBinary("/bin/sh"), withRunner(fail))
	if err := b.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "docker buildx is not available") || !strings.Contains(err.Error(), "'buildx' is not a docker command") {
		t.Errorf("buildx Check() = %v", err)
	}
	b, _ = New(Buildah, withBinary("/bin/sh"), withRunner(fail))
	if err := b.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "buildah cannot run") {
		t.Errorf("buildah Check() = %v", err)
	}
	ok := func(context.Context, string, []string, string, io.Writer) error { return nil }
	for _, kind := range []Kind{Buildah, Buildx} {
		b, _ = New(kind, withBinary("/bin/sh"), withRunner(ok))
		if err := b.Check(context.Background()); err != nil || b.Kind() != kind {
			t.Errorf("%s Check() = %v, Kind() = %s", kind, err, b.Kind())
		}
	}
}

func TestNewUnknownKind(t *testing.T) {
	if _, err := New("docker"); err == nil || !strings.Contains(err.Error(), `unknown builder kind "docker"`) {
		t.Errorf("New = %v", err)
	}
}

func TestBuildRefusesABadRequest(t *testing.T) {
	b, _ := New(Buildah, withRunner((&recorder{}).run))
	req := testRequest(t)
	req.ContextDir = "src/web"
	req.Tag = ""
	_, err := b.Build(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "not an absolute path") || !strings.Contains(err.Error(), "no tag") {
		t.Errorf("Build = %v", err)
	}
	req = testRequest(t)
	req.Tag = "127.0.0.1:5000/team/web@" + testDigest
	if _, err := b.Build(context.Background(), req); err == nil || !strings.Contains(err.Error(), "not a tag to push to") {
		t.Errorf("Build = %v", err)
	}
}

func TestLineWriter(t *testing.T) {
	var out bytes.Buffer
	w := newLineWriter(&out, "svc")
	io.WriteString(w, "a\nb")
	io.WriteString(w, "c\r\nprogress 1%\rprogress 100%\n")
	w.flush()
	if want := "svc | a\nsvc | bc\nsvc | progress 100%\n"; out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
	if got := w.lines(); strings.Join(got, ",") != "a,bc,progress 100%" {
		t.Errorf("lines = %q", got)
	}
}

func TestBuilderEnv(t *testing.T) {
	withConfig := t.TempDir()
	if err := os.WriteFile(filepath.Join(withConfig, "config.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	got := builderEnv([]string{"A=1", "DOCKER_CONFIG=" + empty, "DOCKER_CONFIG=" + withConfig})
	want := []string{"A=1", "DOCKER_CONFIG=" + withConfig}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("builderEnv = %v, want %v", got, want)
	}
}

package e2e

// Authentication against real docker-registry processes with htpasswd
// basic auth, as source and as target: credentials from a docker
// config.json (DOCKER_CONFIG), from a credential helper (credHelpers and
// credsStore, a helper binary built by the test), and one clear error
// naming the registry, without a retry storm, when they are missing or
// wrong.
//
// This file also holds the "rig" the hardening tests share (auth, TLS,
// faults, concurrency, secrets): a small project of its own whose images
// live on a loopback source registry and are named by it, so that no
// fallback to docker.io can ever leave the machine.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// Test credentials. distribution accepts only bcrypt entries in htpasswd
// files; the hashes were made with golang.org/x/crypto/bcrypt (cost 4),
// which is not a dependency of this module, and the test writes the
// htpasswd file from them.
const (
	authUser     = "imagesync-ci"
	authPassword = "hunter2-7f3a9c1e5b-Xq"
	authHash     = "$2a$04$ZtPn1sp0.AyxNSMhjlcVeujRD89bSH/Th4R9DXVs/gIcVjmRLP3NW"
	helperUser   = "helper-user"
	helperPass   = "helper-pw-c0ffee-91d2-Zr"
	helperHash   = "$2a$04$zjrt70UlbGQ7X5LdfEgoKujWXk5J0rA5elkB1SGpreeG6.AHnX8Ry"
)

// rigImages are the images of the hardening tests: an OCI index of two
// platforms, a single Docker schema 2 manifest and a one-platform index,
// with layers large enough for faults in the middle of a blob.
func rigImages() []fakeupstream.Image {
	return []fakeupstream.Image{
		{Ref: "docker.io/library/alpine:3.20", Platforms: []string{"linux/amd64", "linux/arm64"}, Format: fakeupstream.OCI, Base: "alpine", LayerSize: 512 << 10},
		{Ref: "docker.io/library/busybox:1.36", Platforms: []string{"linux/amd64"}, Single: true, Format: fakeupstream.Docker, Base: "alpine", LayerSize: 256 << 10},
		{Ref: "docker.io/library/debian:12", Platforms: []string{"linux/amd64"}, Format: fakeupstream.OCI, Base: "debian", LayerSize: 1 << 20},
	}
}

// rigRepoPath is the repository path and tag of a rig image on its source
// registry ("library/alpine:3.20").
func rigRepoPath(img fakeupstream.Image) string {
	return strings.TrimPrefix(img.Ref, "docker.io/")
}

// seedStorage pushes imgs to a plain registry on a storage directory and
// stops it, so that a test can serve the same content from registries
// started with auth or TLS (which the push helpers do not speak).
func seedStorage(t *testing.T, imgs []fakeupstream.Image) string {
	t.Helper()
	dir := t.TempDir()
	srv, err := testregistry.Start(context.Background(), testregistry.WithStorageDir(dir))
	if err != nil {
		if errors.Is(err, testregistry.ErrNoBinary) {
			testregistry.StartT(t) // skips, or fails with CI=true
		}
		t.Fatal(err)
	}
	defer srv.Close()
	if err := fakeupstream.PushAll(context.Background(), imgs, map[string]string{"docker.io": srv.Host()}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// rig is a project of its own: images.hcl names rigImages on a source
// host and mirrors them to a target host (either may be a proxy).
type rig struct {
	t      *testing.T
	dir    string
	src    string // the source host as images.hcl names it
	dst    string // the target host
	images []fakeupstream.Image
	env    []string // extra environment for every run
}

// newRig writes images.hcl (plus extra HCL) for images on src, mirrored to
// dst/mirror.
func newRig(t *testing.T, src, dst string, imgs []fakeupstream.Image, extra string) *rig {
	t.Helper()
	r := &rig{t: t, dir: t.TempDir(), src: src, dst: dst, images: imgs}
	r.writeConfig(extra)
	return r
}

// writeConfig (re)writes images.hcl with extra HCL after the images.
func (r *rig) writeConfig(extra string) {
	r.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "target {\n  registry = %q\n}\n\n", r.dst+"/mirror")
	for _, img := range r.images {
		fmt.Fprintf(&b, "image %q {}\n", r.source(img))
	}
	b.WriteString("\n" + extra + "\n")
	writeFile(r.t, filepath.Join(r.dir, "images.hcl"), b.String())
}

// source is an image's reference on the source.
func (r *rig) source(img fakeupstream.Image) string { return r.src + "/" + rigRepoPath(img) }

// target is an image's reference on the target.
func (r *rig) target(img fakeupstream.Image) string {
	return r.dst + "/mirror/" + rigRepoPath(img)
}

// run runs imagesync in the rig with its environment plus env.
func (r *rig) run(args ...string) result {
	r.t.Helper()
	return imagesyncEnv(r.t, r.dir, r.env, args...)
}

// must runs imagesync and fails the test unless it exits with code.
func (r *rig) must(code int, args ...string) result {
	r.t.Helper()
	res := r.run(args...)
	if res.code != code {
		r.t.Fatalf("imagesync %s exited %d, want %d\n%v", strings.Join(args, " "), res.code, code, res)
	}
	return res
}

// imagesyncEnv runs the binary in dir with an empty docker config (unless
// env names another) and env added to the environment; later entries win.
func imagesyncEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	res, err := execImagesync(dir, append([]string{"DOCKER_CONFIG=" + t.TempDir()}, env...), args...)
	if err != nil {
		t.Fatalf("run imagesync %v: %v", args, err)
	}
	return res
}

// execImagesync runs the binary; an error means it could not run.
func execImagesync(dir string, env []string, args ...string) (result, error) {
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		return res, err
	}
	return res, nil
}

// htpasswdFile writes an htpasswd file with one user per hash.
func htpasswdFile(t *testing.T, entries ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "htpasswd")
	writeFile(t, path, strings.Join(entries, "\n")+"\n")
	return path
}

// dockerConfig writes a DOCKER_CONFIG directory holding config.json and
// returns the directory.
func dockerConfig(t *testing.T, cfg map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "config.json"), string(data))
	return dir
}

// basicAuths is the "auths" section of a docker config for user:pass on
// every host.
func basicAuths(user, pass string, hosts ...string) map[string]any {
	auths := map[string]any{}
	for _, h := range hosts {
		auths[h] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
	}
	return auths
}

// authedServer starts a docker-registry with htpasswd auth, serving storage
// when not empty.
func authedServer(t *testing.T, storage string, entries ...string) *testregistry.Server {
	t.Helper()
	opts := []testregistry.Option{testregistry.WithHtpasswd(htpasswdFile(t, entries...))}
	if storage != "" {
		opts = append(opts, testregistry.WithStorageDir(storage))
	}
	return testregistry.StartT(t, opts...)
}

// checkMirrored runs verify --deep and checks every image's target is its
// source's digest.
func (r *rig) checkMirrored() {
	r.t.Helper()
	res := r.must(0, "verify", "--deep")
	if !strings.Contains(res.stdout, fmt.Sprintf("Verified %d images", len(r.images))) {
		r.t.Fatalf("verify --deep:\n%v", res)
	}
}

// accessLog is a registry's access log after its first mark lines, once
// it has settled: docker-registry writes a line after the handler returns,
// which can be after the client has its answer.
func accessLog(t *testing.T, srv *testregistry.Server, mark int) []testregistry.Request {
	t.Helper()
	var reqs []testregistry.Request
	for i := 0; i < 50; i++ {
		next, err := srv.Requests()
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && len(next) == len(reqs) {
			break
		}
		reqs = next
		time.Sleep(50 * time.Millisecond)
	}
	if len(reqs) < mark {
		t.Fatalf("access log of %s shrank from %d to %d lines", srv.Host(), mark, len(reqs))
	}
	return reqs[mark:]
}

// unauthorized counts the requests a registry answered 401 after the
// first mark lines of its log, by "METHOD path", and in all.
func unauthorized(t *testing.T, srv *testregistry.Server, mark int) (map[string]int, int) {
	t.Helper()
	out := map[string]int{}
	total := 0
	for _, req := range accessLog(t, srv, mark) {
		if req.Status == http.StatusUnauthorized {
			kind, _, _ := req.Endpoint()
			if kind == testregistry.KindPing {
				continue // the ping asks how to log in; a 401 is its answer
			}
			out[req.Method+" "+req.Path]++
			total++
		}
	}
	return out, total
}

func TestAuthFromDockerConfig(t *testing.T) {
	imgs := rigImages()
	src := authedServer(t, seedStorage(t, imgs), authUser+":"+authHash)
	dst := authedServer(t, "", helperUser+":"+helperHash)
	r := newRig(t, src.Host(), dst.Host(), imgs, "")
	cfg := dockerConfig(t, map[string]any{"auths": mergeSections(
		basicAuths(authUser, authPassword, src.Host()),
		basicAuths(helperUser, helperPass, dst.Host()),
	)})
	r.env = []string{"DOCKER_CONFIG=" + cfg}

	r.must(0, "lock")
	res := r.must(0, "apply", "--auto-approve")
	if !strings.Contains(res.stdout, "Apply complete! Images: 3 created") {
		t.Fatalf("apply:\n%v", res)
	}
	r.checkMirrored()
	for _, img := range imgs {
		if got, want := headDigestAuth(t, r.target(img), helperUser, helperPass), headDigestAuth(t, r.source(img), authUser, authPassword); got != want || got == "" {
			t.Errorf("%s: target %s, source %s", img.Ref, got, want)
		}
	}
}

func TestAuthCredentialHelpers(t *testing.T) {
	imgs := rigImages()
	src := authedServer(t, seedStorage(t, imgs), authUser+":"+authHash)
	for _, tc := range []struct {
		name string
		cfg  func(src, dst string) map[string]any
	}{
		{"credHelpers", func(src, dst string) map[string]any {
			return map[string]any{"credHelpers": map[string]string{src: "imagesync-test", dst: "imagesync-test"}}
		}},
		{"credsStore", func(string, string) map[string]any { return map[string]any{"credsStore": "imagesync-test"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := authedServer(t, "", helperUser+":"+helperHash)
			helperDir, callLog := buildCredHelper(t, map[string][2]string{
				src.Host(): {authUser, authPassword},
				dst.Host(): {helperUser, helperPass},
			})
			r := newRig(t, src.Host(), dst.Host(), imgs, "")
			r.env = []string{
				"DOCKER_CONFIG=" + dockerConfig(t, tc.cfg(src.Host(), dst.Host())),
				"PATH=" + helperDir + string(os.PathListSeparator) + os.Getenv("PATH"),
			}
			r.must(0, "lock")
			r.must(0, "apply", "--auto-approve")
			r.checkMirrored()
			calls := readFile(t, callLog)
			for _, h := range []string{src.Host(), dst.Host()} {
				if !strings.Contains(calls, "get "+h+"\n") {
					t.Errorf("the credential helper was never asked for %s:\n%s", h, calls)
				}
			}
		})
	}
}

func TestAuthMissingCredentials(t *testing.T) {
	imgs := rigImages()
	src := authedServer(t, seedStorage(t, imgs), authUser+":"+authHash)
	dst := authedServer(t, "", helperUser+":"+helperHash)
	r := newRig(t, src.Host(), dst.Host(), imgs, "")

	// No credentials at all (the empty DOCKER_CONFIG imagesyncEnv sets).
	res := r.must(1, "lock")
	t.Logf("lock without credentials:\n%v", res)
	want := "authentication to " + src.Host() + " failed: it requires a login and no credentials for " + src.Host() + " were found"
	if !strings.Contains(res.stderr, want) || !strings.Contains(res.stderr, "DOCKER_CONFIG") {
		t.Errorf("lock without credentials: want %q naming DOCKER_CONFIG\n%v", want, res)
	}
	if strings.Contains(res.stderr, "attempts") {
		t.Errorf("a 401 was retried:\n%v", res)
	}
	checkNoRetryStorm(t, src, 0)
	if _, err := os.Stat(filepath.Join(r.dir, "images.lock")); err == nil {
		t.Error("lock wrote images.lock although it could not resolve")
	}

	// Source credentials only: lock works, plan and apply fail on the target.
	r.env = []string{"DOCKER_CONFIG=" + dockerConfig(t, map[string]any{"auths": basicAuths(authUser, authPassword, src.Host())})}
	r.must(0, "lock")
	for _, args := range [][]string{{"plan"}, {"apply", "--auto-approve"}, {"verify"}} {
		mark := len(accessLog(t, dst, 0))
		res := r.must(1, args...)
		want := "authentication to " + dst.Host() + " failed"
		if !strings.Contains(res.stderr+res.stdout, want) {
			t.Errorf("%v without target credentials: want %q\n%v", args, want, res)
		}
		checkNoRetryStorm(t, dst, mark)
	}
}

func TestAuthWrongCredentials(t *testing.T) {
	imgs := rigImages()
	src := authedServer(t, seedStorage(t, imgs), authUser+":"+authHash)
	dst := authedServer(t, "", helperUser+":"+helperHash)
	r := newRig(t, src.Host(), dst.Host(), imgs, "")
	r.env = []string{"DOCKER_CONFIG=" + dockerConfig(t, map[string]any{"auths": mergeSections(
		basicAuths(authUser, "not-the-password", src.Host()),
		basicAuths(helperUser, helperPass, dst.Host()),
	)})}
	res := r.must(1, "lock")
	t.Logf("lock with a wrong password:\n%v", res)
	for _, want := range []string{
		"authentication to " + src.Host() + " failed: it refused the credentials",
		"check the credentials for " + src.Host() + " in DOCKER_CONFIG",
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("lock with a wrong password: want %q\n%v", want, res)
		}
	}
	if strings.Contains(res.stderr, "not-the-password") || strings.Contains(res.stderr, "attempts") {
		t.Errorf("the error shows the password or a retry:\n%v", res)
	}
	checkNoRetryStorm(t, src, 0)

	// Wrong target password: apply fails naming the target, nothing lands.
	r.env = []string{"DOCKER_CONFIG=" + dockerConfig(t, map[string]any{"auths": basicAuths(authUser, authPassword, src.Host())})}
	r.must(0, "lock")
	r.env = []string{"DOCKER_CONFIG=" + dockerConfig(t, map[string]any{"auths": mergeSections(
		basicAuths(authUser, authPassword, src.Host()),
		basicAuths(helperUser, "wrong", dst.Host()),
	)})}
	mark := len(accessLog(t, dst, 0))
	res = r.must(1, "apply", "--auto-approve")
	t.Logf("apply with a wrong target password:\n%v", res)
	if want := "authentication to " + dst.Host() + " failed: it refused the credentials"; !strings.Contains(res.stderr+res.stdout, want) {
		t.Errorf("apply with a wrong target password: want %q\n%v", want, res)
	}
	checkNoRetryStorm(t, dst, mark)
}

// checkNoRetryStorm fails if any request after the first mark lines of
// the registry's log was answered 401 more than once: a refused login is
// an answer, not a fault to retry.
func checkNoRetryStorm(t *testing.T, srv *testregistry.Server, mark int) {
	t.Helper()
	by, total := unauthorized(t, srv, mark)
	for req, n := range by {
		if n > 1 {
			t.Errorf("%s was answered 401 %d times: a refused login must not be retried", req, n)
		}
	}
	if total == 0 {
		t.Errorf("no request was answered 401 by %s; the test did not exercise auth", srv.Host())
	}
}

// headDigestAuth is the digest a reference on a loopback registry with
// basic auth resolves to.
func headDigestAuth(t *testing.T, ref, user, pass string) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(r, remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
	if err != nil {
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return desc.Digest.String()
}

// mergeSections merges maps of docker config sections.
func mergeSections(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// credHelperSource is a docker credential helper
// (docker-credential-imagesync-test): "get" answers from creds.json next
// to the binary and logs each call to calls.log there.
const credHelperSource = `package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	exe, err := os.Executable()
	if err != nil {
		os.Exit(3)
	}
	dir := filepath.Dir(exe)
	in, _ := io.ReadAll(os.Stdin)
	server := strings.TrimSpace(string(in))
	if f, err := os.OpenFile(filepath.Join(dir, "calls.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintf(f, "%s %s\n", os.Args[1], server)
		f.Close()
	}
	if len(os.Args) < 2 || os.Args[1] != "get" {
		fmt.Println("unsupported")
		os.Exit(1)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "creds.json"))
	var creds map[string][2]string
	_ = json.Unmarshal(data, &creds)
	c, ok := creds[server]
	if !ok {
		fmt.Print("credentials not found in native keychain")
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]string{"ServerURL": server, "Username": c[0], "Secret": c[1]})
}
`

// buildCredHelper builds docker-credential-imagesync-test into a new
// directory with creds.json, and returns the directory and its call log.
func buildCredHelper(t *testing.T, creds map[string][2]string) (dir, callLog string) {
	t.Helper()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "go.mod"), "module credhelper\n\ngo 1.22\n")
	writeFile(t, filepath.Join(src, "main.go"), credHelperSource)
	dir = t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "docker-credential-imagesync-test"), ".")
	build.Dir = src
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the credential helper: %v\n%s", err, out)
	}
	data, err := json.Marshal(creds)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "creds.json"), string(data))
	callLog = filepath.Join(dir, "calls.log")
	writeFile(t, callLog, "")
	return dir, callLog
}

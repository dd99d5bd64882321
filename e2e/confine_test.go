package e2e

// A pull request is untrusted: its repository can link any file to
// /proc/self/environ or to a file of the CI machine, name them in compose
// includes and env files, and read them from chart templates. With a
// secret in the job's environment, every command a pull request check
// runs (images --discovered, lock, lock --check, plan) is run on such
// repositories under GitHub Actions, and the secret is searched for in
// everything they print or write: stdout, stderr (annotations included),
// the step summary, every file left in the repository.

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// secretToken is the job's secret, set in the environment of every run.
const secretToken = "s3cr3t-7c1d9e4b"

// hostileRepos are repositories of a pull request that try to read the
// secret, each with the error every command must stop with.
var hostileRepos = []struct {
	name  string
	files map[string]string // "-> target" makes a link
	want  string
}{
	{"compose .env linked to the environment", map[string]string{
		"compose.yaml": "services:\n  app:\n    image: \"leak:${CI_SECRET_TOKEN:-none}\"\n",
		".env":         "-> /proc/self/environ",
	}, `.env is a symbolic link to "/proc/self/environ", outside the repository`},
	{"compose .env linked to a file outside, shaped as a valid reference", map[string]string{
		"compose.yaml": "services:\n  app:\n    image: \"app:${TAG}\"\n",
		".env":         "-> ../outside/secrets.env",
	}, `.env is a symbolic link to "../outside/secrets.env"`},
	{"compose include of the environment", map[string]string{
		"compose.yaml": "include: [/proc/self/environ]\nservices:\n  app:\n    image: app:1\n",
	}, `"/proc/self/environ": /proc/self/environ is outside the repository`},
	{"compose include whose env_file is the environment", map[string]string{
		"compose.yaml": "include:\n  - path: inc.yaml\n    env_file: /proc/self/environ\n",
		"inc.yaml":     "services:\n  app:\n    image: \"leak:${CI_SECRET_TOKEN:-none}\"\n",
	}, `/proc/self/environ is outside the repository`},
	{"compose extends a file outside", map[string]string{
		"compose.yaml": "services:\n  app:\n    extends: {file: ../outside/compose.yaml, service: app}\n",
	}, `is outside the repository`},
	{"chart file linked to the environment, printed by fail", chartFiles(`{{ fail (.Files.Get "env") }}`, "-> /proc/self/environ"),
		`chart/env is a symbolic link to "/proc/self/environ", outside the repository`},
	{"chart file linked to the environment, matched into a tag", chartFiles(
		`image: "app:{{ regexFind "s3cr3t-[0-9a-f]+" (.Files.Get "env") }}"`, "-> /proc/self/environ"),
		`chart/env is a symbolic link to "/proc/self/environ"`},
	{"chart file linked to a file outside", chartFiles(`{{ fail (.Files.Get "env") }}`, "-> ../../outside/secrets.env"),
		`chart/env is a symbolic link to "../../outside/secrets.env"`},
	{"chart template reading the environment", chartFiles(`image: "app:{{ env "CI_SECRET_TOKEN" }}"`, "TAG=1\n"),
		`function "env" not defined`},
	{"images.lock linked to a file outside", map[string]string{
		"compose.yaml": "services:\n  app:\n    image: app:1\n",
		"images.lock":  "-> ../outside/secrets.env",
	}, `images.lock is a symbolic link to "../outside/secrets.env"`},
}

// chartFiles is a repository whose only source is a chart with template
// pod.yaml reading its file env.
func chartFiles(template, env string) map[string]string {
	return map[string]string{
		"chart/Chart.yaml":         "apiVersion: v2\nname: app\nversion: 1.0.0\n",
		"chart/env":                env,
		"chart/templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      " + template + "\n",
		"images.hcl.extra":         "discover {\n  helm \"app\" {\n    chart = \"chart\"\n  }\n}\n",
	}
}

func TestSecretsStayOutOfOutput(t *testing.T) {
	for _, hr := range hostileRepos {
		t.Run(hr.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "repo")
			writeFile(t, filepath.Join(parent, "outside", "secrets.env"), "TAG="+secretToken+"\nCI_SECRET_TOKEN="+secretToken+"\n")
			writeFile(t, filepath.Join(parent, "outside", "compose.yaml"), "services:\n  app:\n    image: \"app:"+secretToken+"\"\n")
			config := "target {\n  registry = \"127.0.0.1:9/mirror\"\n}\n"
			if _, ok := hr.files["compose.yaml"]; ok {
				config += "discover {\n  compose = [\"compose.yaml\"]\n}\n"
			}
			writeFile(t, filepath.Join(dir, "images.hcl"), config+hr.files["images.hcl.extra"])
			lockfile := "# This file is maintained automatically by \"imagesync lock\".\n"
			writeFile(t, filepath.Join(dir, "images.lock"), lockfile)
			for name, content := range hr.files {
				if name == "images.hcl.extra" {
					continue
				}
				p := filepath.Join(dir, name)
				if target, ok := strings.CutPrefix(content, "-> "); ok {
					os.Remove(p)
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.Symlink(target, p); err != nil {
						t.Fatal(err)
					}
					continue
				}
				writeFile(t, p, content)
			}
			summary := filepath.Join(parent, "summary.md")
			writeFile(t, summary, "")
			var printed strings.Builder
			for _, args := range [][]string{{"images", "--discovered"}, {"lock"}, {"lock", "--check"}, {"plan"}} {
				r := runWithSecret(t, dir, summary, args...)
				printed.WriteString(r.stdout + r.stderr)
				if strings.HasPrefix(hr.name, "images.lock") && args[0] == "images" {
					if r.code != 0 {
						t.Errorf("images --discovered, which reads no lock: %v", r)
					}
					continue
				}
				if r.code != 1 || !strings.Contains(r.stderr, hr.want) {
					t.Errorf("imagesync %s: %v\nwant exit 1 and an error containing %q", strings.Join(args, " "), r, hr.want)
				}
			}
			if strings.HasPrefix(hr.name, "images.lock") {
				if target, err := os.Readlink(filepath.Join(dir, "images.lock")); err != nil || target != "../outside/secrets.env" {
					t.Errorf("images.lock was replaced: %q, %v", target, err)
				}
			} else if got := readFile(t, filepath.Join(dir, "images.lock")); got != lockfile {
				t.Errorf("images.lock was written:\n%s", got)
			}
			checkNoSecret(t, printed.String(), parent, summary, dir)
		})
	}
}

// TestOSEnvironmentUnread: with use_os_env false (the default), a compose
// variable the job's environment sets is unset for imagesync.
func TestOSEnvironmentUnread(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "repo")
	writeFile(t, filepath.Join(dir, "images.hcl"), "target {\n  registry = \"127.0.0.1:9/mirror\"\n}\ndiscover {\n  compose = [\"compose.yaml\"]\n}\n")
	writeFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  app:\n    image: \"leak:${CI_SECRET_TOKEN:-none}\"\n")
	summary := filepath.Join(parent, "summary.md")
	writeFile(t, summary, "")
	r := runWithSecret(t, dir, summary, "images", "--discovered")
	if r.code != 0 || !strings.Contains(r.stdout, "docker.io/library/leak:none") {
		t.Fatalf("images --discovered: %v", r)
	}
	checkNoSecret(t, r.stdout+r.stderr, parent, summary, dir)
}

// runWithSecret runs imagesync in dir as a GitHub Actions job of a pull
// request would, with the secret in its environment.
func runWithSecret(t *testing.T, dir, summary string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "CI_SECRET_TOKEN="+secretToken,
		"GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY="+summary, "GITHUB_WORKSPACE="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run imagesync %v: %v", args, err)
	}
	return r
}

// checkNoSecret fails when the secret is in printed, in the step summary
// or in a regular file under dir (links are not followed: they are the
// pull request's, not what imagesync wrote).
func checkNoSecret(t *testing.T, printed, parent, summary, dir string) {
	t.Helper()
	if i := strings.Index(printed, secretToken); i >= 0 {
		t.Errorf("the secret was printed: ...%s...", printed[max(0, i-200):min(len(printed), i+100)])
	}
	if s := readFile(t, summary); strings.Contains(s, secretToken) {
		t.Errorf("the secret is in the step summary:\n%s", s)
	}
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		files++
		if data, err := os.ReadFile(p); err != nil || bytes.Contains(data, []byte(secretToken)) {
			t.Errorf("the secret is in %s (%v)", p, err)
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Errorf("searched %d files: %v", files, err)
	}
}

// TestHelmBombBounded: a chart whose template asks for gigabytes stops at
// the memory limit of the child process that renders it, and the error
// names the release; the other sources of the run are still reported.
func TestHelmBombBounded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	writeFile(t, filepath.Join(dir, "images.hcl"), "target {\n  registry = \"127.0.0.1:9/mirror\"\n}\n"+
		"discover {\n  compose = [\"compose.yaml\"]\n  helm \"bomb\" {\n    chart = \"chart\"\n  }\n}\n")
	writeFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  app:\n    image: Bad_Reference\n")
	writeFile(t, filepath.Join(dir, "chart/Chart.yaml"), "apiVersion: v2\nname: bomb\nversion: 1.0.0\n")
	writeFile(t, filepath.Join(dir, "chart/templates/bomb.yaml"), `data: {{ repeat 3000000000 "x" | len }}`+"\n")
	r := imagesync(t, dir, "images", "--discovered")
	if r.code != 1 || !strings.Contains(r.stderr, `helm "bomb": rendering used more than 1024 MiB of memory, the limit of one release`) ||
		!strings.Contains(r.stderr, "discovery found 2 problems") {
		t.Fatalf("images --discovered: %v", r)
	}
}

// TestInitHelmBombBounded: init renders the charts it finds to check them
// before it proposes them, in the same bounded child process as discovery:
// a chart that allocates gigabytes is proposed commented out, with why,
// and init finishes.
func TestInitHelmBombBounded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	writeFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  app:\n    image: nginx:1.27\n")
	writeFile(t, filepath.Join(dir, "chart/Chart.yaml"), "apiVersion: v2\nname: bomb\nversion: 1.0.0\n")
	writeFile(t, filepath.Join(dir, "chart/templates/bomb.yaml"), `data: {{ repeat 3000000000 "x" | len }}`+"\n")
	r := imagesync(t, dir, "init", "--target", "registry.example.com/team")
	if r.code != 0 {
		t.Fatalf("init: %v", r)
	}
	hcl := readFile(t, filepath.Join(dir, "images.hcl"))
	if !strings.Contains(hcl, "rendering used more than 1024 MiB of memory") || !strings.Contains(hcl, `# helm "bomb"`) {
		t.Errorf("images.hcl does not leave the bomb out, saying why:\n%s", hcl)
	}
}

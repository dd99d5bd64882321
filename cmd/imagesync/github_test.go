package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runInJob runs a command line as in a GitHub Actions job whose workspace
// is ws, and returns what it printed.
func runInJob(t *testing.T, ws string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Chdir(ws) // -C of an earlier run changed it
	vars := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": ws, "GITHUB_STEP_SUMMARY": filepath.Join(ws, "summary.md")}
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, lookupEnv: func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}}
	code = run(context.Background(), e, args)
	return code, out.String(), errOut.String()
}

// TestGitHubAnnotations: under -C, a config error and a stale lock are
// annotated on their files, relative to the workspace, and the stale lock
// names the command that fixes it, with -C.
func TestGitHubAnnotations(t *testing.T) {
	ws := t.TempDir()
	repo := filepath.Join(ws, "deploy")
	writeTestFile(t, filepath.Join(repo, "compose.yaml"), "services:\n  db:\n    image: postgres:16\n")
	writeTestFile(t, filepath.Join(repo, "images.hcl"), "target {\n  registry = \"reg.example.com/team\"\n  layuot = \"flat\"\n}\n")
	code, _, stderr := runInJob(t, ws, "-C", "deploy", "lock", "--check")
	if want := "::error file=deploy/images.hcl,line=3,col=3,endColumn=9,title=Unsupported argument::"; code != exitError || !strings.Contains(stderr, want) {
		t.Errorf("config error: exit %d, want %q in\n%s", code, want, stderr)
	}

	writeTestFile(t, filepath.Join(repo, "images.hcl"), "target {\n  registry = \"reg.example.com/team\"\n}\n")
	writeTestFile(t, filepath.Join(repo, "images.lock"), `image "docker.io/library/postgres:15" {
  digest     = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
  media_type = "application/vnd.oci.image.index.v1+json"
  target     = "reg.example.com/team/postgres:15"
  platforms = [
    "linux/amd64",
  ]
  sources = [
    "compose.yaml#services.db.image",
  ]
}
`)
	code, stdout, stderr := runInJob(t, ws, "-C", "deploy", "lock", "--check")
	for _, want := range []string{
		"imagesync: images.lock is out of date (2 differences):\n",
		`run "imagesync -C deploy lock" to update images.lock` + "\n",
		"::error file=deploy/images.lock,title=images.lock is out of date::+ docker.io/library/postgres:16: not in images.lock%0Arun \"imagesync -C deploy lock\" to update images.lock\n",
		"::error file=deploy/images.lock,line=1,title=images.lock is out of date::- docker.io/library/postgres:15: in images.lock but no longer referenced",
	} {
		if code != exitError || !strings.Contains(stderr, want) {
			t.Errorf("stale lock: exit %d, want %q in\n%s", code, want, stderr)
		}
	}
	if stdout != "" {
		t.Errorf("stale lock printed %q to stdout", stdout)
	}

	// In JSON, the result is on stdout all the same.
	code, stdout, _ = runInJob(t, ws, "-C", "deploy", "lock", "--check", "--format", "json")
	if code != exitError || !strings.Contains(stdout, `"up_to_date": false`) || !strings.Contains(stdout, `"fix": "imagesync -C deploy lock"`) {
		t.Errorf("lock --check --format json: exit %d\n%s", code, stdout)
	}
	if _, err := os.Stat(filepath.Join(ws, "summary.md")); !os.IsNotExist(err) {
		t.Errorf("lock --check wrote a step summary: %v", err)
	}
}

func TestGitHubPath(t *testing.T) {
	ws := t.TempDir()
	t.Chdir(ws)
	g := github{workspace: ws}
	for in, want := range map[string]string{
		"images.hcl":                          "images.hcl",
		filepath.Join(ws, "a", "images.lock"): "a/images.lock",
		"/elsewhere/images.lock":              "/elsewhere/images.lock",
	} {
		if got := g.path(in); got != want {
			t.Errorf("path(%q) = %q, want %q", in, got, want)
		}
	}
	if got := (github{}).path("x/images.hcl"); got != "x/images.hcl" {
		t.Errorf("without a workspace: %q", got)
	}
}

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// actionlintVersion is the actionlint the action and the example
// workflows are checked with: pinned, so that a new check upstream never
// turns a green build red by itself.
const actionlintVersion = "v1.7.12"

// actionlint returns the pinned actionlint, installing it with go install
// into a cache directory the first time (the Go module proxy is reached
// here and in CI). Without it the test is skipped, except with CI=true.
func actionlint(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin := filepath.Join(cache, "imagesync-tools", "actionlint-"+actionlintVersion, "actionlint")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "install", "github.com/rhysd/actionlint/cmd/actionlint@"+actionlintVersion)
	cmd.Dir = t.TempDir() // outside this module: the tool's own go.mod decides its dependencies
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(bin), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := "cannot install actionlint " + actionlintVersion + " (go install github.com/rhysd/actionlint/cmd/actionlint@" + actionlintVersion + "): " + err.Error() + "\n" + string(out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// TestWorkflowsLint runs actionlint on a repository laid out as a user's
// would be (with imagesync's own release.yml): action.yml at its root, the example workflows in
// .github/workflows using it as "uses: ./" (so that their inputs and
// outputs are checked against action.yml), and a workflow made of the
// action's own steps (actionlint reads only the metadata of an action).
func TestWorkflowsLint(t *testing.T) {
	lint := actionlint(t)
	repo := t.TempDir()
	if err := os.Mkdir(filepath.Join(repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo, "action.yml"), readFile(t, filepath.Join("..", "action.yml")))
	examples, err := filepath.Glob(filepath.Join("..", "examples", "ci", "github", "*.yml"))
	if err != nil || len(examples) != 5 {
		t.Fatalf("examples/ci/github holds %v (%v), want plan.yml, apply.yml, upgrade.yml, apply-matrix.yml and relock.yml", examples, err)
	}
	for _, ex := range examples {
		src := readFile(t, ex)
		if !strings.Contains(src, "uses: imagesync/imagesync@v1") {
			t.Errorf("%s does not use imagesync/imagesync@v1", ex)
		}
		writeFile(t, filepath.Join(repo, ".github", "workflows", filepath.Base(ex)), strings.ReplaceAll(src, "uses: imagesync/imagesync@v1", "uses: ./"))
	}
	writeFile(t, filepath.Join(repo, ".github", "workflows", "action-steps.yml"), stepsWorkflow(t, loadAction(t)))
	// imagesync's own release workflow.
	writeFile(t, filepath.Join(repo, ".github", "workflows", "release.yml"), readFile(t, filepath.Join("..", ".github", "workflows", "release.yml")))

	cmd := exec.Command(lint, "-color=false")
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("actionlint %s found problems (%v):\n%s", actionlintVersion, err, out)
	}
}

// stepsWorkflow is a reusable workflow whose one job runs the steps of the
// composite action, with the action's inputs as its own.
func stepsWorkflow(t *testing.T, a actionFile) string {
	t.Helper()
	inputs := map[string]any{}
	for name, in := range a.Inputs {
		inputs[name] = map[string]any{"description": in.Description, "type": "string", "required": in.Required, "default": in.Default}
	}
	wf := map[string]any{
		"name": "the steps of action.yml",
		"on":   map[string]any{"workflow_call": map[string]any{"inputs": inputs}},
		"jobs": map[string]any{"steps": map[string]any{"runs-on": "ubuntu-latest", "steps": a.Runs.Steps}},
	}
	data, err := yaml.Marshal(wf)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestExampleCommandLines checks that every imagesync command line of the
// CI examples parses (with --help, a command line whose flags parse prints
// the help and exits 0), and that the GitLab example has the three jobs.
func TestExampleCommandLines(t *testing.T) {
	var lines []string
	gitlab := readFile(t, filepath.Join("..", "examples", "ci", "gitlab-ci.yml"))
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(gitlab), &doc); err != nil {
		t.Fatalf("gitlab-ci.yml: %v", err)
	}
	for _, name := range []string{"imagesync:plan", "imagesync:apply", "imagesync:upgrade"} {
		job, _ := doc[name].(map[string]any)
		script, _ := job["script"].([]any)
		if len(script) == 0 {
			t.Errorf("gitlab-ci.yml has no job %s with a script", name)
		}
		for _, s := range script {
			for _, line := range strings.Split(fmt.Sprint(s), "\n") {
				if cmd, ok := strings.CutPrefix(strings.TrimSpace(line), "imagesync "); ok {
					lines = append(lines, cmd)
				}
			}
		}
	}
	examples, _ := filepath.Glob(filepath.Join("..", "examples", "ci", "github", "*.yml"))
	for _, ex := range examples {
		for _, line := range strings.Split(readFile(t, ex), "\n") {
			if cmd, ok := strings.CutPrefix(strings.TrimSpace(line), "command: "); ok {
				lines = append(lines, strings.ReplaceAll(cmd, "${{ runner.temp }}", "/tmp"))
			}
		}
	}
	if len(lines) < 8 {
		t.Errorf("found %d imagesync command lines in the examples: %q", len(lines), lines)
	}
	for _, line := range lines {
		words := strings.Fields(line)
		for i, w := range words {
			if strings.ContainsAny(w, "><|") {
				words = words[:i] // the shell's redirections and conditions
				break
			}
		}
		res := imagesync(t, t.TempDir(), append(words, "--help")...)
		if res.code != 0 {
			t.Errorf("imagesync %s: %v", line, res)
		}
	}
}

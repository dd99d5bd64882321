package e2e

// The drop-in CI of issue 13: action.yml's shell steps run here as the
// runner runs them (bash, the GITHUB_* variables, step outputs), with the
// binary input, against test registries; and the action and the example
// workflows pass actionlint, pinned, installed by the test itself.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/imagesync/imagesync/internal/testregistry"
)

// actionStep is one step of action.yml.
type actionStep struct {
	Name  string            `yaml:"name,omitempty"`
	ID    string            `yaml:"id,omitempty"`
	If    string            `yaml:"if,omitempty"`
	Uses  string            `yaml:"uses,omitempty"`
	Shell string            `yaml:"shell,omitempty"`
	Run   string            `yaml:"run,omitempty"`
	Env   map[string]string `yaml:"env,omitempty"`
	With  map[string]string `yaml:"with,omitempty"`
}

// actionFile is action.yml.
type actionFile struct {
	Inputs map[string]struct {
		Description string `yaml:"description"`
		Required    bool   `yaml:"required"`
		Default     string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

func loadAction(t *testing.T) actionFile {
	t.Helper()
	var a actionFile
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join("..", "action.yml"))), &a); err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("action.yml runs %q, want a composite action", a.Runs.Using)
	}
	return a
}

// actionJob runs action.yml's steps as a GitHub runner would, in one job:
// the workspace, the step summary and the temporary directory stay from
// one use of the action to the next.
type actionJob struct {
	t         *testing.T
	action    actionFile
	workspace string
	summary   string
	temp      string
	toolCache string // RUNNER_TOOL_CACHE, kept from one job to the next
	env       []string
}

// runnerArch is RUNNER_ARCH of a runner like this machine.
func runnerArch() string {
	if runtime.GOARCH == "arm64" {
		return "ARM64"
	}
	return "X64"
}

var expression = regexp.MustCompile(`\$\{\{\s*([^}]+?)\s*\}\}`)

// use runs the action with inputs and returns its outputs, the log of its
// steps and whether every step succeeded.
func (j *actionJob) use(inputs map[string]string) (outputs map[string]string, log string, ok bool) {
	j.t.Helper()
	for name, in := range j.action.Inputs {
		if _, set := inputs[name]; !set {
			inputs[name] = in.Default
		}
	}
	steps := map[string]map[string]string{}
	eval := func(s string) string {
		return expression.ReplaceAllStringFunc(s, func(m string) string {
			expr := expression.FindStringSubmatch(m)[1]
			parts := strings.Split(expr, ".")
			switch {
			case parts[0] == "inputs" && len(parts) == 2:
				return inputs[parts[1]]
			case expr == "github.action_ref":
				return "" // as for a local action
			case expr == "github.action_path":
				abs, _ := filepath.Abs("..")
				return abs
			case expr == "runner.temp":
				return j.temp
			case parts[0] == "steps" && len(parts) == 4 && parts[2] == "outputs":
				return steps[parts[1]][parts[3]]
			}
			j.t.Fatalf("action.yml uses ${{ %s }}, which this test does not know", expr)
			return ""
		})
	}
	var logs strings.Builder
	for i, s := range j.action.Runs.Steps {
		if !j.runs(s, steps) {
			continue
		}
		if strings.HasPrefix(s.Uses, "actions/cache@") {
			// The tool cache directory outlives the job here, standing
			// in for what actions/cache restores.
			continue
		}
		if s.Uses != "" || s.Shell != "bash" {
			j.t.Fatalf("step %q would run (uses %q, shell %q): the test runs only bash steps; give the binary input", s.Name, s.Uses, s.Shell)
		}
		out, log, err := j.runStep(i, s, eval)
		fmt.Fprintf(&logs, "--- %s\n%s", s.Name, log)
		if s.ID != "" {
			steps[s.ID] = out
		}
		if err != nil {
			fmt.Fprintf(&logs, "--- %s failed: %v\n", s.Name, err)
			return nil, logs.String(), false
		}
	}
	outputs = map[string]string{}
	for name, o := range j.action.Outputs {
		outputs[name] = eval(o.Value)
	}
	return outputs, logs.String(), true
}

// runs evaluates a step's if: the conditions action.yml uses.
func (j *actionJob) runs(s actionStep, steps map[string]map[string]string) bool {
	j.t.Helper()
	if s.If == "" {
		return true
	}
	if m := regexp.MustCompile(`^steps\.(\w+)\.outputs\.(\w+) == '([^']*)'$`).FindStringSubmatch(s.If); m != nil {
		return steps[m[1]][m[2]] == m[3]
	}
	j.t.Fatalf("step %q runs if %q, which this test does not know", s.Name, s.If)
	return false
}

// runStep runs one bash step as the runner does ("bash --noprofile
// --norc -eo pipefail {0}") and reads the outputs it wrote.
func (j *actionJob) runStep(i int, s actionStep, eval func(string) string) (map[string]string, string, error) {
	script := filepath.Join(j.temp, fmt.Sprintf("step-%d.sh", i))
	output := filepath.Join(j.temp, fmt.Sprintf("output-%d", i))
	writeFile(j.t, script, s.Run)
	writeFile(j.t, output, "")
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
	cmd.Dir = j.workspace
	cmd.Env = append(os.Environ(), "GITHUB_ACTIONS=true", "GITHUB_WORKSPACE="+j.workspace, "GITHUB_STEP_SUMMARY="+j.summary,
		"GITHUB_OUTPUT="+output, "RUNNER_TEMP="+j.temp, "RUNNER_TOOL_CACHE="+j.toolCache, "RUNNER_OS=Linux", "RUNNER_ARCH="+runnerArch())
	cmd.Env = append(cmd.Env, j.env...)
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+eval(v))
	}
	log, err := cmd.CombinedOutput()
	f, oerr := os.Open(output)
	if oerr != nil {
		j.t.Fatal(oerr)
	}
	defer f.Close()
	outputs := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			outputs[k] = v
		}
	}
	return outputs, string(log), err
}

// summarySince is the step summary after its first mark bytes: what the
// steps since added.
func (j *actionJob) summarySince(mark int) string {
	data, err := os.ReadFile(j.summary)
	if err != nil && !os.IsNotExist(err) {
		j.t.Fatal(err)
	}
	return string(data[min(mark, len(data)):])
}

// TestActionSteps runs action.yml's steps with the binary input against
// test registries: lock --check, plan (outputs and the step summary),
// apply, plan again, and a stale lock annotated on images.lock relative
// to the workspace.
func TestActionSteps(t *testing.T) {
	imgs := rigImages()
	src := seededSource(t, imgs)
	dst := testregistry.StartT(t)
	r := newRig(t, src.Host(), dst.Host(), imgs, "")
	r.must(0, "lock")
	j := &actionJob{t: t, action: loadAction(t), workspace: filepath.Dir(r.dir), temp: t.TempDir(), toolCache: t.TempDir(),
		env: []string{"DOCKER_CONFIG=" + t.TempDir()}}
	j.summary = filepath.Join(j.temp, "step_summary.md")
	dir := filepath.Base(r.dir)
	use := func(command string) (map[string]string, string, string, bool) {
		mark := len(j.summarySince(0))
		out, log, ok := j.use(map[string]string{"command": command, "directory": dir, "binary": binary})
		return out, log, j.summarySince(mark), ok
	}

	out, log, summary, ok := use("lock --check")
	if !ok || !strings.Contains(log, "images.lock is up to date: 3 images, 0 builds.") || summary != "" || out["has-changes"] != "" {
		t.Errorf("lock --check: ok %v, outputs %v, summary %q\n%s", ok, out, summary, log)
	}

	out, log, summary, ok = use("plan")
	if !ok || out["has-changes"] != "true" {
		t.Fatalf("plan: ok %v, outputs %v\n%s", ok, out, log)
	}
	var plan struct {
		Summary struct{ Create int }
		Changes []any
	}
	if err := json.Unmarshal([]byte(readFile(t, out["plan-json"])), &plan); err != nil || plan.Summary.Create != 3 || len(plan.Changes) != 3 {
		t.Errorf("plan-json %s: %+v, %v", out["plan-json"], plan, err)
	}
	md := readFile(t, out["plan-markdown"])
	for _, want := range []string{"## imagesync plan\n", "**Plan: 3 to create, 0 to update, 0 unchanged.**\n", "### Create (3)\n",
		"### Preflight\n", "3 target repositories the plan writes to: 3 will be created on push."} {
		if !strings.Contains(summary, want) || !strings.Contains(md, want) {
			t.Errorf("plan's step summary or markdown lacks %q:\nsummary:\n%s\nmarkdown:\n%s", want, summary, md)
		}
	}
	if !strings.Contains(log, "Plan: 3 to create") {
		t.Errorf("the plan is not in the step's log:\n%s", log)
	}

	out, log, summary, ok = use("apply --auto-approve")
	if !ok || !strings.Contains(summary, "## imagesync apply\n\n**Apply complete! Images: 3 created, 0 updated, 0 unchanged.**\n") ||
		!strings.Contains(summary, "| `"+r.target(imgs[0])+"` | create |") || out["has-changes"] != "" {
		t.Errorf("apply: ok %v, outputs %v, summary:\n%s\nlog:\n%s", ok, out, summary, log)
	}

	out, log, summary, ok = use("plan")
	if !ok || out["has-changes"] != "false" || !strings.Contains(summary, "**No changes.** The target registry matches `"+dir+"/images.lock`.") {
		t.Errorf("plan after apply: ok %v, outputs %v, summary:\n%s\nlog:\n%s", ok, out, summary, log)
	}

	// A stale lock fails the step, annotated on images.lock as the
	// workspace names it, with the command that fixes it.
	writeFile(t, filepath.Join(r.dir, "images.hcl"), readFile(t, filepath.Join(r.dir, "images.hcl"))+fmt.Sprintf("image %q {}\n", src.Host()+"/library/extra:1"))
	_, log, _, ok = use("lock --check")
	want := "::error file=" + dir + "/images.lock,title=images.lock is out of date::+ " + src.Host() + "/library/extra:1: not in images.lock%0Arun \"imagesync -C " + dir + " lock\" to update images.lock"
	if ok || !strings.Contains(log, want) {
		t.Errorf("lock --check of a stale lock: ok %v, want %q in\n%s", ok, want, log)
	}
	if _, log, _, ok = use("plan"); ok || !strings.Contains(log, "imagesync: images.lock is out of date") {
		t.Errorf("plan of a stale lock: ok %v\n%s", ok, log)
	}
}

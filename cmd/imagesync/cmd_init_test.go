package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/config"
)

// runInit runs `imagesync init` with the config in a fresh directory
// holding a compose file, stdin as given.
func runInit(t *testing.T, stdin string, tty bool, args ...string) (code int, stdout, stderr, path string) {
	t.Helper()
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  db:\n    image: postgres:16\n")
	path = filepath.Join(dir, "images.hcl")
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdinTTY: tty, stdout: &out, stderr: &errOut}
	code = run(context.Background(), e, append([]string{"init", "--config", path}, args...))
	return code, out.String(), errOut.String(), path
}

func TestInitCommand(t *testing.T) {
	// With --target: the config written, the next command printed.
	code, stdout, stderr, path := runInit(t, "", false, "--target", "registry.example.com/team")
	if code != exitOK || stderr != "" || !strings.Contains(stdout, "  compose      app: compose.yaml\n") ||
		!strings.HasSuffix(stdout, "\n  imagesync --config "+path+" lock\n") {
		t.Errorf("init --target: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	cfg, diags := config.Load(hclparse.NewParser(), path)
	if diags.HasErrors() || cfg.Target.Registry != "registry.example.com/team" || len(cfg.Discover.ComposeProjects) != 1 ||
		strings.Join(cfg.Discover.ComposeProjects[0].Files, ",") != "compose.yaml" {
		t.Errorf("written config: %+v %v", cfg, diags)
	}

	// On a terminal the registry is asked for.
	code, stdout, stderr, path = runInit(t, "localhost:5000/team\n", true)
	if code != exitOK || !strings.HasPrefix(stdout, "Registry to mirror the images to, host[:port][/namespace...]: Wrote ") {
		t.Errorf("init on a terminal: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if cfg, diags := config.Load(hclparse.NewParser(), path); diags.HasErrors() || cfg.Target.Registry != "localhost:5000/team" {
		t.Errorf("config written after the prompt: %+v %v", cfg, diags)
	}

	for _, tt := range []struct {
		name, stdin string
		tty         bool
		args        []string
		want        string
	}{
		{"no terminal to ask", "", false, nil,
			"imagesync: init: --target REGISTRY is required (standard input is not a terminal to ask for it)\nRun \"imagesync init --help\" for usage.\n"},
		{"nothing answered", "\n", true, nil,
			"imagesync: init: no registry given\nRun \"imagesync init --help\" for usage.\n"},
		{"not a registry", "", false, []string{"--target", "team"},
			"imagesync: --target \"team\": \"team\" must start with a registry host (with a dot or a port, or localhost), e.g. registry.example.com/team\n"},
	} {
		code, _, stderr, path := runInit(t, tt.stdin, tt.tty, tt.args...)
		if code != exitError || stderr != tt.want {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and %q", tt.name, code, stderr, tt.want)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s: init wrote %s", tt.name, path)
		}
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "images.hcl")
	writeTestFile(t, path, "# mine\n")
	code, stdout, stderr := runLine(t, "init", "--config", path, "--target", "registry.example.com/team")
	if code != exitError || stdout != "" || stderr != "imagesync: "+path+" already exists: init never overwrites it; edit it, or remove it and run init again\n" {
		t.Errorf("init over an existing file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if got, _ := os.ReadFile(path); string(got) != "# mine\n" {
		t.Errorf("init changed the existing file: %q", got)
	}
}

func TestNextCommand(t *testing.T) {
	for _, tt := range []struct {
		g    globals
		want string
	}{
		{defaults, "imagesync lock"},
		{globals{Dir: "repo", Config: "images.hcl", Lockfile: "images.lock"}, "imagesync -C repo lock"},
		{globals{Dir: "my repo", Config: "ci/images.hcl", Lockfile: "ci.lock"}, "imagesync -C 'my repo' --config ci/images.hcl --lockfile ci.lock lock"},
		{globals{Config: "it's.hcl", Lockfile: "images.lock"}, `imagesync --config 'it'\''s.hcl' lock`},
	} {
		if got := nextCommand(&tt.g, "lock"); got != tt.want {
			t.Errorf("nextCommand(%+v) = %q, want %q", tt.g, got, tt.want)
		}
	}
}

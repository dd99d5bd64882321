package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// runLine runs a command line as main does and returns what it printed.
func runLine(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}
	code = run(context.Background(), e, args)
	return code, out.String(), errOut.String()
}

// TestHelpAgrees checks, for every command of the table, that `help CMD`,
// `CMD -h` and `CMD --help` print the same help to stdout and exit 0, and
// that the help names the command and every one of its flags.
func TestHelpAgrees(t *testing.T) {
	for _, c := range everyCommand() {
		var first string
		words := strings.Fields(c.name)
		for _, line := range [][]string{append([]string{"help"}, words...), append(words, "-h"), append(words, "--help"), append([]string{"-h"}, words...)} {
			code, stdout, stderr := runLine(t, line...)
			if code != exitOK || stderr != "" {
				t.Errorf("imagesync %s: exit %d, stderr %q", strings.Join(line, " "), code, stderr)
			}
			if first == "" {
				first = stdout
			} else if stdout != first {
				t.Errorf("imagesync %s printed another help than imagesync help %s:\n%s", strings.Join(line, " "), c.name, stdout)
			}
		}
		if !strings.HasPrefix(first, "Usage: imagesync "+c.name) {
			t.Errorf("help of %s starts with %q", c.name, strings.SplitN(first, "\n", 2)[0])
		}
		fs, _ := c.flagSet(c.args())
		fs.AddFlagSet(globalFlagSet(&globals{}))
		for _, name := range flagNames(fs) {
			if !strings.Contains(first, "--"+name+" ") {
				t.Errorf("help of %s does not list --%s:\n%s", c.name, name, first)
			}
		}
	}
}

// everyCommand is the command table with the subcommands of each family,
// named as they are typed ("render compose").
func everyCommand() []command {
	var out []command
	for _, c := range commands() {
		out = append(out, c)
		if c.subcommands != nil {
			for _, sub := range c.subcommands() {
				out = append(out, *c.subcommand(sub.name))
			}
		}
	}
	return out
}

// TestUsageListsTheTable checks that the usage text lists exactly the
// commands of the table, in its order, and that every way of asking for it
// prints it to stdout and exits 0.
func TestUsageListsTheTable(t *testing.T) {
	text := usage()
	_, list, ok := strings.Cut(text, "\nCommands:\n")
	if !ok {
		t.Fatalf("usage has no Commands section:\n%s", text)
	}
	list, _, _ = strings.Cut(list, "\n\n")
	var listed, table []string
	for _, line := range strings.Split(list, "\n") {
		listed = append(listed, strings.Fields(line)[0])
	}
	for _, c := range commands() {
		table = append(table, c.name)
	}
	if strings.Join(listed, " ") != strings.Join(table, " ") {
		t.Errorf("usage lists %v, the table has %v", listed, table)
	}
	for _, line := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, stdout, stderr := runLine(t, line...)
		if code != exitOK || stdout != text || stderr != "" {
			t.Errorf("imagesync %s: exit %d, stderr %q, stdout:\n%s", line, code, stderr, stdout)
		}
	}
	// Without a command: the usage, on stderr, as an error.
	code, stdout, stderr := runLine(t)
	if code != exitError || stdout != "" || stderr != "imagesync: no command given\n\n"+text {
		t.Errorf("imagesync: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

// TestUsageErrorsExit1 checks that a usage error exits 1 on every command,
// plan --detailed-exitcode included (its 2 means changes pending and
// nothing else), with one line that starts like every error and one that
// says where the usage is.
func TestUsageErrorsExit1(t *testing.T) {
	for _, tt := range []struct {
		line, want string
	}{
		{"frobnicate", "imagesync: unknown command \"frobnicate\"\nRun \"imagesync help\" for usage.\n"},
		{"--nope plan", "imagesync: unknown flag: --nope\nRun \"imagesync help\" for usage.\n"},
		{"plan --detailed-exitcode --nope", "imagesync: plan: unknown flag: --nope\nRun \"imagesync plan --help\" for usage.\n"},
		{"plan --nope --detailed-exitcode", "imagesync: plan: unknown flag: --nope\nRun \"imagesync plan --help\" for usage.\n"},
		{"help nope", "imagesync: help: unknown command \"nope\"\nRun \"imagesync help --help\" for usage.\n"},
	} {
		code, stdout, stderr := runLine(t, strings.Fields(tt.line)...)
		if code != exitError || stdout != "" || stderr != tt.want {
			t.Errorf("imagesync %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", tt.line, code, stdout, stderr, tt.want)
		}
	}
	for _, c := range everyCommand() {
		code, _, stderr := runLine(t, append(strings.Fields(c.name), "--no-such-flag")...)
		if code != exitError || !strings.HasPrefix(stderr, "imagesync: "+c.name+": unknown flag: --no-such-flag\n") {
			t.Errorf("imagesync %s --no-such-flag: exit %d, stderr %q", c.name, code, stderr)
		}
	}
}

// TestErrorsStartAlike runs failing commands of every kind and checks that
// each error starts with "imagesync: " and no other prefix appears.
func TestErrorsStartAlike(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "images.hcl")
	bad := filepath.Join(dir, "bad.hcl")
	writeTestFile(t, good, "target {\n  registry = \"registry.example.com/team\"\n}\n")
	writeTestFile(t, bad, "target {\n  registry = \"registry.example.com/team\"\n  layuot = \"flat\"\n}\n")
	for _, line := range [][]string{
		{"lock", "--nope"}, // usage
		{"images", "--config", filepath.Join(dir, "missing")},   // diagnostic without a place
		{"images", "--config", bad},                             // diagnostic with a place
		{"images", "--config", good},                            // an error of the command
		{"lock", "--check", "--config", good},                   // a missing lock
		{"plan", "--detailed-exitcode", "--config", good},       // a missing lock, refused
		{"verify", "--config", good},                            // an error of the command
		{"apply", "--auto-approve", "--config", good, "x.json"}, // an unreadable saved plan
	} {
		code, _, stderr := runLine(t, line...)
		if code != exitError {
			t.Errorf("imagesync %s: exit %d, want 1", strings.Join(line, " "), code)
		}
		if !strings.HasPrefix(stderr, "imagesync: ") || strings.Contains(strings.ToLower(stderr), "error:") {
			t.Errorf("imagesync %s: stderr does not start with \"imagesync: \", or has another prefix:\n%s", strings.Join(line, " "), stderr)
		}
	}
}

func TestReport(t *testing.T) {
	for _, tt := range []struct {
		code     int
		err      error
		wantCode int
		want     string
	}{
		{exitChanges, nil, exitChanges, ""},
		{exitOK, errReported, exitError, ""},
		{exitOK, fmt.Errorf("lock: %w", context.Canceled), exitError, "imagesync: interrupted\n"},
		{exitOK, errors.New("registry.example.com: connection refused"), exitError, "imagesync: registry.example.com: connection refused\n"},
		{exitOK, &usageError{command: "apply", msg: "at most one plan file"}, exitError,
			"imagesync: apply: at most one plan file\nRun \"imagesync apply --help\" for usage.\n"},
	} {
		var stderr bytes.Buffer
		if got := report(&env{stderr: &stderr}, tt.code, tt.err); got != tt.wantCode || stderr.String() != tt.want {
			t.Errorf("report(%d, %v) = %d, %q; want %d, %q", tt.code, tt.err, got, stderr.String(), tt.wantCode, tt.want)
		}
	}
	// In a GitHub Actions job, an error is also an annotation.
	var stderr bytes.Buffer
	e := &env{stderr: &stderr, lookupEnv: func(k string) (string, bool) { return map[string]string{"GITHUB_ACTIONS": "true"}[k], true }}
	report(e, exitOK, errors.New("registry.example.com: 50% lost\nreset"))
	if want := "imagesync: registry.example.com: 50% lost\nreset\n::error title=imagesync::registry.example.com: 50%25 lost%0Areset\n"; stderr.String() != want {
		t.Errorf("report in GitHub Actions wrote %q, want %q", stderr.String(), want)
	}
}

// flagNames lists the long names of the flags of fs.
func flagNames(fs *pflag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	return names
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// bashComplete loads the bash completion script in a real bash, checks
// that it registered itself for imagesync (complete -p), and completes
// line (the cursor at its end; a trailing space starts a new word) by
// driving the function as bash does: COMP_WORDS, COMP_CWORD, then
// COMPREPLY.
func bashComplete(t *testing.T, script, line string) []string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	words := strings.Fields(line)
	if strings.HasSuffix(line, " ") {
		words = append(words, "")
	}
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + w + "'"
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "imagesync.bash")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plan.json"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	prog := `source "$1" || exit 1
complete -p imagesync | grep -q -- '-F _imagesync' || { echo "not registered: $(complete -p imagesync)"; exit 1; }
COMP_WORDS=(` + strings.Join(quoted, " ") + `)
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="` + line + `"
COMP_POINT=${#COMP_LINE}
_imagesync imagesync "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
`
	cmd := exec.Command(bash, "--noprofile", "--norc", "-c", prog, "bash", file)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", line, err, out)
	}
	return strings.Fields(string(out))
}

// TestBashCompletion loads `imagesync completion bash` in bash and
// completes commands, flags (a command's and the global ones), a family's
// subcommands, the values of --format, and file names.
func TestBashCompletion(t *testing.T) {
	code, script, stderr := runLine(t, "completion", "bash")
	if code != exitOK || stderr != "" {
		t.Fatalf("completion bash: exit %d, %s", code, stderr)
	}
	for _, tt := range []struct {
		line string
		want []string
	}{
		{"imagesync pl", []string{"plan"}},
		{"imagesync plan --det", []string{"--detailed-exitcode"}},
		{"imagesync ", topLevel(docCommands())},
		{"imagesync v", []string{"verify", "version"}},
		{"imagesync -C deploy --config ci.hcl pl", []string{"plan"}},
		{"imagesync plan --out plan.json --sk", []string{"--skip-builds"}},
		{"imagesync plan --log-", []string{"--log-level", "--log-format"}},
		{"imagesync plan --format m", []string{"markdown"}},
		{"imagesync --log-level ", []string{"debug", "info", "warn", "error"}},
		{"imagesync render ", []string{"compose", "env", "json", "kubernetes"}},
		{"imagesync render kubernetes --st", []string{"--strict"}},
		{"imagesync render kubernetes -f - --o", []string{"--output"}},
		{"imagesync completion ", []string{"bash", "zsh", "fish", "powershell"}},
		{"imagesync diff --format ", []string{"text", "json", "markdown"}},
		{"imagesync version --j", []string{"--json"}},
		{"imagesync apply --auto", []string{"--auto-approve"}},
		{"imagesync apply pla", []string{"plan.json"}}, // a file of the directory
		{"imagesync nosuch --", nil},
	} {
		got := bashComplete(t, script, tt.line)
		if !slices.Equal(got, tt.want) {
			t.Errorf("complete %q = %q, want %q", tt.line, got, tt.want)
		}
	}
}

// TestCompletionScripts checks that every shell's script names every
// command and every flag of the table, and that an unknown shell is a
// usage error.
func TestCompletionScripts(t *testing.T) {
	for _, shell := range completionShells() {
		script, err := completionScript(shell)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range docCommands() {
			name := c.name[strings.LastIndex(c.name, " ")+1:]
			if !strings.Contains(script, name) {
				t.Errorf("%s completion lacks the command %q", shell, c.name)
			}
			for _, f := range c.flags {
				want := "--" + f.name
				if shell == "fish" {
					want = "-l " + f.name
				}
				if !strings.Contains(script, want) {
					t.Errorf("%s completion lacks %s of %s", shell, want, c.name)
				}
			}
		}
	}
	code, _, stderr := runLine(t, "completion", "tcsh")
	if code != exitError || !strings.Contains(stderr, `imagesync: completion: unknown shell "tcsh": want bash, zsh, fish, powershell`) {
		t.Errorf("completion tcsh: exit %d, %s", code, stderr)
	}
}

// TestManPages writes the man pages, checks that there is one per command
// and subcommand naming each of its flags, and, where groff is installed,
// that groff reads each without a warning.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runLine(t, "man", "-o", dir)
	if code != exitOK || stderr != "" {
		t.Fatalf("man: exit %d, %s", code, stderr)
	}
	cmds := docCommands()
	if want := "Wrote " + strconv.Itoa(len(cmds)+1) + " man pages to " + dir + ".\n"; stdout != want {
		t.Errorf("man printed %q, want %q", stdout, want)
	}
	main := readTestFile(t, filepath.Join(dir, "imagesync.1"))
	for _, want := range []string{"IMAGESYNC_CONFIG", "IMAGESYNC_LOCKFILE", "IMAGESYNC_DIRECTORY", ".SH EXIT STATUS", `\fB\-\-log\-level\fR`} {
		if !strings.Contains(main, want) {
			t.Errorf("imagesync.1 lacks %q", want)
		}
	}
	for _, c := range cmds {
		page := readTestFile(t, filepath.Join(dir, manName(c.name)+".1"))
		for _, f := range c.flags {
			if !strings.Contains(page, `\fB\-\-`+roffEscape(f.name)+`\fR`) {
				t.Errorf("%s.1 lacks --%s", manName(c.name), f.name)
			}
		}
		if !strings.Contains(main, roffEscape(manName(c.name))) {
			t.Errorf("imagesync.1 does not list %s", c.name)
		}
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("groff is not installed (.ci/run installs groff-base)")
		}
		t.Skip("groff is not installed: the pages were not rendered (apt-get install groff-base)")
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	for _, p := range pages {
		out, err := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", p).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", filepath.Base(p), err, out)
		}
	}
}

// TestRoffEscape checks that text from the table cannot issue roff
// requests or lose its backslashes and hyphens.
func TestRoffEscape(t *testing.T) {
	for in, want := range map[string]string{
		"--format":   `\-\-format`,
		".SH x":      `\&.SH x`,
		"'x":         `\&'x`,
		`a\b`:        `a\eb`,
		"plain text": "plain text",
	} {
		if got := roffEscape(in); got != want {
			t.Errorf("roffEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

func readTestFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

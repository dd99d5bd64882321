package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestGlobalsFromEnv checks that IMAGESYNC_DIRECTORY, IMAGESYNC_CONFIG and
// IMAGESYNC_LOCKFILE set the global flags, that the command line wins over
// them wherever it gives the flag (before or after the command, in a
// family), and that an empty variable counts as unset.
func TestGlobalsFromEnv(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		line string
		want globals
	}{
		{"no environment", nil, "plan", globals{Config: "images.hcl", Lockfile: "images.lock"}},
		{"every variable", map[string]string{envDirectory: "deploy", envConfig: "ci.hcl", envLockfile: "ci.lock"}, "plan",
			globals{Dir: "deploy", Config: "ci.hcl", Lockfile: "ci.lock"}},
		{"flags after the command win", map[string]string{envDirectory: "deploy", envConfig: "ci.hcl", envLockfile: "ci.lock"},
			"plan -C repo --config a.hcl --lockfile a.lock", globals{Dir: "repo", Config: "a.hcl", Lockfile: "a.lock"}},
		{"flags before the command win", map[string]string{envConfig: "ci.hcl", envLockfile: "ci.lock"},
			"--config a.hcl lock", globals{Config: "a.hcl", Lockfile: "ci.lock"}},
		{"one flag wins, the others come from the environment", map[string]string{envDirectory: "deploy", envConfig: "ci.hcl"},
			"-C repo verify", globals{Dir: "repo", Config: "ci.hcl", Lockfile: "images.lock"}},
		{"empty is unset", map[string]string{envDirectory: "", envConfig: ""}, "images",
			globals{Config: "images.hcl", Lockfile: "images.lock"}},
		{"a family's subcommand", map[string]string{envLockfile: "ci.lock"}, "render compose",
			globals{Config: "images.hcl", Lockfile: "ci.lock"}},
		{"a family's subcommand, flag wins", map[string]string{envLockfile: "ci.lock"}, "--lockfile x.lock render env",
			globals{Config: "images.hcl", Lockfile: "x.lock"}},
		{"other variables are not read", map[string]string{"IMAGESYNC_DEBUG": "1", "CONFIG": "x.hcl"}, "plan",
			globals{Config: "images.hcl", Lockfile: "images.lock"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, a, err := parseCommandLineEnv(strings.Fields(tt.line), func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if got := *a.globalFlags(); got != tt.want {
				t.Errorf("globals = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestLogFlags checks --log-level, --log-format and --debug: the level and
// format they choose, and the combinations refused as usage errors.
func TestLogFlags(t *testing.T) {
	for _, tt := range []struct {
		line    string
		level   slog.Level
		json    bool
		wantErr string
	}{
		{line: "plan", level: slog.LevelWarn},
		{line: "plan --debug", level: slog.LevelDebug},
		{line: "plan --log-level info", level: slog.LevelInfo},
		{line: "--log-level error plan", level: slog.LevelError},
		{line: "plan --log-level debug --debug", level: slog.LevelDebug},
		{line: "plan --log-format json", level: slog.LevelWarn, json: true},
		{line: "plan --log-format text --log-level debug", level: slog.LevelDebug},
		{line: "plan --log-level trace", wantErr: `plan: --log-level "trace": want debug, info, warn or error`},
		{line: "plan --debug --log-level info", wantErr: "plan: --debug is --log-level debug: it cannot be combined with --log-level info"},
		{line: "plan --log-format logfmt", wantErr: `plan: --log-format "logfmt": want text or json`},
	} {
		_, a, err := parseCommandLine(strings.Fields(tt.line))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%s: error %v, want %q", tt.line, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.line, err)
		}
		g := a.globalFlags()
		if got := g.level(); got != tt.level {
			t.Errorf("%s: level %v, want %v", tt.line, got, tt.level)
		}
		var buf bytes.Buffer
		g.logger(&buf).Log(t.Context(), tt.level, "hello", "k", "v")
		isJSON := json.Valid(bytes.TrimSpace(buf.Bytes()))
		if isJSON != tt.json || !strings.Contains(buf.String(), "hello") {
			t.Errorf("%s: logged %q, want JSON %v", tt.line, buf.String(), tt.json)
		}
	}
}

package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/view"
)

// defaults are the global flags when none is given.
var defaults = globals{Config: "images.hcl", Lockfile: "images.lock"}

// text is the output flags when none is given; wait5m is --max-wait's
// default.
var (
	text   = output{format: view.Text}
	wait5m = 5 * time.Minute
)

func refs(t *testing.T, list ...string) []imageref.Ref {
	t.Helper()
	out, err := parseRefs("test", list)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestParseCommandLine covers the flag parsing of every command: flags,
// operands, global flags before and after the command, -h/--help, and the
// usage errors.
func TestParseCommandLine(t *testing.T) {
	type row struct {
		line    string
		want    arguments // nil when an error is expected
		wantErr string    // a usage error containing this; "help" for errHelp
	}
	rows := []row{
		// init
		{"init", &initArgs{globals: defaults}, ""},
		{"init --target registry.example.com/team", &initArgs{globals: defaults, Target: "registry.example.com/team"}, ""},
		{"-C repo init --config ci.hcl --target=localhost:5000", &initArgs{globals: globals{Dir: "repo", Config: "ci.hcl", Lockfile: "images.lock"}, Target: "localhost:5000"}, ""},
		{"init --target", nil, "init: flag needs an argument: --target"},
		{"init registry.example.com", nil, "init: unexpected arguments: registry.example.com"},
		{"init --force", nil, "init: unknown flag: --force"},
		{"init -h", nil, "help"},
		// lock
		{"lock", &lockArgs{globals: defaults, output: text, MaxWait: wait5m}, ""},
		{"lock --check", &lockArgs{globals: defaults, output: text, MaxWait: wait5m, Check: true}, ""},
		{"lock --upgrade", &lockArgs{globals: defaults, output: text, MaxWait: wait5m, Upgrade: true}, ""},
		{"lock --upgrade redis:7-alpine quay.io/minio/minio", &lockArgs{globals: defaults, output: text, MaxWait: wait5m, Upgrade: true,
			Refs: []string{"redis:7-alpine", "quay.io/minio/minio"}, only: refs(t, "redis:7-alpine", "quay.io/minio/minio")}, ""},
		{"-C repo --debug lock --config ci.hcl --lockfile=ci.lock",
			&lockArgs{globals: globals{Dir: "repo", Config: "ci.hcl", Lockfile: "ci.lock", Debug: true}, output: text, MaxWait: wait5m}, ""},
		{"--config a.hcl lock --config b.hcl", &lockArgs{globals: globals{Config: "b.hcl", Lockfile: "images.lock"}, output: text, MaxWait: wait5m}, ""},
		{"lock --check --upgrade", nil, "lock: --check and --upgrade cannot be combined"},
		{"lock redis", nil, "lock: references given without --upgrade: redis"},
		{"lock --upgrade Redis", nil, `lock: --upgrade: invalid image reference "Redis"`},
		{"lock --nope", nil, "lock: unknown flag: --nope"},
		{"lock -h", nil, "help"},
		{"lock --help", nil, "help"},
		{"lock --check --nope -h", nil, "lock: unknown flag: --nope"},
		{"lock --check -h", nil, "help"},
		{"lock --check --format markdown --max-wait 30s", &lockArgs{globals: defaults, output: output{Format: "markdown", format: view.Markdown}, MaxWait: 30 * time.Second, Check: true}, ""},
		{"lock --check --json", &lockArgs{globals: defaults, output: output{JSON: true, format: view.JSON}, MaxWait: wait5m, Check: true}, ""},
		{"lock --format json", nil, "lock: --format json is for lock --check"},
		{"lock --max-wait 0", nil, "lock: --max-wait must be positive, got 0s"},
		{"lock --max-wait soon", nil, `lock: invalid argument "soon" for "--max-wait" flag`},
		// images
		{"images", &imagesArgs{globals: defaults, output: text}, ""},
		{"images --discovered --json", &imagesArgs{globals: defaults, Discovered: true, output: output{JSON: true, format: view.JSON}}, ""},
		{"images --format=Markdown", &imagesArgs{globals: defaults, output: output{Format: "Markdown", format: view.Markdown}}, ""},
		{"images --format json --json", &imagesArgs{globals: defaults, output: output{Format: "json", JSON: true, format: view.JSON}}, ""},
		{"images --format text --json", nil, "images: --json and --format text cannot be combined"},
		{"images --json --format markdown", nil, "images: --json and --format markdown cannot be combined"},
		{"images --format yaml", nil, `images: --format: unknown format "yaml": use text, json or markdown`},
		{"images lock", nil, "images: unexpected arguments: lock"},
		{"images -h", nil, "help"},
		// plan
		{"plan", &planArgs{globals: defaults, output: text, MaxWait: wait5m}, ""},
		{"plan --detailed-exitcode --json --out p.json --target redis:7-alpine --target nginx -v --skip-builds",
			&planArgs{globals: defaults, DetailedExitCode: true, output: output{JSON: true, format: view.JSON}, Out: "p.json", Verbose: true, SkipBuilds: true,
				MaxWait: wait5m, Targets: []string{"redis:7-alpine", "nginx"}, targets: refs(t, "redis:7-alpine", "nginx")}, ""},
		{"plan --format markdown --no-preflight --base-lock base.lock --max-wait 1h",
			&planArgs{globals: defaults, output: output{Format: "markdown", format: view.Markdown}, NoPreflight: true, BaseLock: "base.lock", MaxWait: time.Hour}, ""},
		{"plan --json --format text", nil, "plan: --json and --format text cannot be combined"},
		{"plan --base-lock", nil, "plan: flag needs an argument: --base-lock"},
		{"plan --max-wait -1s", nil, "plan: --max-wait must be positive, got -1s"},
		{"plan --out", nil, "plan: flag needs an argument: --out"},
		{"plan --target Bad", nil, `plan: --target: invalid image reference "Bad"`},
		{"plan p.json", nil, "plan: unexpected arguments: p.json"},
		{"plan --detailed-exitcode --nope", nil, "plan: unknown flag: --nope"},
		{"plan --help", nil, "help"},
		// apply
		{"apply", &applyArgs{globals: defaults, output: text, MaxWait: wait5m}, ""},
		{"apply p.json", &applyArgs{globals: defaults, output: text, MaxWait: wait5m, PlanFile: "p.json"}, ""},
		{"apply --auto-approve --parallelism 8 --target redis -q --skip-builds",
			&applyArgs{globals: defaults, output: text, MaxWait: wait5m, AutoApprove: true, Parallelism: 8, Quiet: true, SkipBuilds: true,
				Targets: []string{"redis"}, targets: refs(t, "redis")}, ""},
		{"apply a.json b.json", nil, "apply: at most one plan file, got a.json b.json"},
		{"apply --parallelism 0", nil, `apply: invalid argument "0" for "--parallelism" flag: must be at least 1`},
		{"apply --parallelism x", nil, `apply: invalid argument "x" for "--parallelism" flag`},
		{"apply p.json --target redis", nil, "apply: --target and --skip-builds cannot narrow a saved plan"},
		{"apply p.json --skip-builds", nil, "apply: --target and --skip-builds cannot narrow a saved plan"},
		{"apply -h", nil, "help"},
		{"apply p.json --format markdown --max-wait 90s", &applyArgs{globals: defaults, output: output{Format: "markdown", format: view.Markdown}, MaxWait: 90 * time.Second, PlanFile: "p.json"}, ""},
		{"apply --json --format markdown", nil, "apply: --json and --format markdown cannot be combined"},
		// verify
		{"verify", &verifyArgs{globals: defaults, output: text, MaxWait: wait5m}, ""},
		{"verify --deep --json", &verifyArgs{globals: defaults, Deep: true, output: output{JSON: true, format: view.JSON}, MaxWait: wait5m}, ""},
		{"verify --format markdown", &verifyArgs{globals: defaults, output: output{Format: "markdown", format: view.Markdown}, MaxWait: wait5m}, ""},
		{"verify now", nil, "verify: unexpected arguments: now"},
		{"verify --help", nil, "help"},
		// version
		{"version", &versionArgs{globals: defaults}, ""},
		{"--version", &versionArgs{globals: defaults}, ""},
		{"version --short", nil, "version: unknown flag: --short"},
		{"version 2", nil, "version: unexpected arguments: 2"},
		{"version -h", nil, "help"},
		// help
		{"help", &helpArgs{globals: defaults}, ""},
		{"-h", &helpArgs{globals: defaults}, ""},
		{"--help", &helpArgs{globals: defaults}, ""},
		{"help lock", &helpArgs{globals: defaults, Command: "lock"}, ""},
		{"-h plan", &helpArgs{globals: defaults, Command: "plan"}, ""},
		{"help nope", nil, `help: unknown command "nope"`},
		{"help lock plan", nil, "help: one command at most, got lock plan"},
		{"help -h", nil, "help"},
		// before any command
		{"frobnicate", nil, `unknown command "frobnicate"`},
		{"--nope lock", nil, "unknown flag: --nope"},
		{"-C", nil, "flag needs an argument: 'C' in -C"},
	}
	for _, tt := range rows {
		_, got, err := parseCommandLine(strings.Fields(tt.line))
		var uerr *usageError
		switch {
		case tt.wantErr == "help":
			if !errors.Is(err, errHelp) {
				t.Errorf("%q: got %v, %v; want the help", tt.line, got, err)
			}
		case tt.wantErr != "":
			if !errors.As(err, &uerr) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: got %#v, %v; want a usage error containing %q", tt.line, got, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.line, err)
		case !reflect.DeepEqual(got, tt.want):
			t.Errorf("%q:\n got %#v\nwant %#v", tt.line, got, tt.want)
		}
	}
	if _, _, err := parseCommandLine(nil); !errors.Is(err, errNoCommand) {
		t.Errorf("empty command line: %v, want errNoCommand", err)
	}
}

// FuzzParseCommandLine feeds arbitrary command lines (arguments separated
// by NUL) to the parser: it never panics, and a failure is always a usage
// error, the request for help, or the missing command.
func FuzzParseCommandLine(f *testing.F) {
	for _, seed := range []string{"lock\x00--upgrade\x00redis", "plan\x00--target\x00Bad", "-C\x00x\x00init\x00--target=localhost:5000",
		"apply\x00--parallelism\x00-1", "help\x00lock", "--\x00lock", "-h\x00nope", "version\x00--\x00x",
		"plan\x00--format\x00markdown\x00--json", "apply\x00--max-wait\x00-5s", "lock\x00--format=json", "plan\x00--base-lock"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		c, a, err := parseCommandLine(args)
		var uerr *usageError
		switch {
		case err == nil:
			if c == nil || a == nil {
				t.Fatalf("%q: no command and no error", args)
			}
		case errors.Is(err, errHelp):
			if c == nil {
				t.Fatalf("%q: help of no command", args)
			}
		case errors.Is(err, errNoCommand), errors.As(err, &uerr):
		default:
			t.Fatalf("%q: %T %v is not a usage error", args, err, err)
		}
	})
}

package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/view"
	"github.com/imagesync/imagesync/internal/workspace"
)

// defaults are the global flags when none is given.
var defaults = globals{Config: "images.hcl", Lockfile: "images.lock"}

// text is the output flags when none is given; wait5m is --max-wait's
// default.
var (
	text   = output{format: view.Text}
	wait5m = 5 * time.Minute
)

// wait is apply's default --shard-wait.
const wait = apply.DefaultShardWait

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
		{"lock --check --online", &lockArgs{globals: defaults, output: text, MaxWait: wait5m, Check: true, Online: true}, ""},
		{"lock --online", nil, "lock: --online is for lock --check"},
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
		{"images --target-digests --json", &imagesArgs{globals: defaults, TargetDigests: true, output: output{JSON: true, format: view.JSON}}, ""},
		{"images --discovered --target-digests", nil, "images: --target-digests lists images.lock, not what discovery finds"},
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
		{"plan --shard 2/4 --out p.json", &planArgs{globals: defaults, output: text, MaxWait: wait5m, Out: "p.json", Shard: "2/4", shard: diff.Shard{K: 2, N: 4}}, ""},
		{"plan --shard=1/1", &planArgs{globals: defaults, output: text, MaxWait: wait5m, Shard: "1/1", shard: diff.Shard{K: 1, N: 1}}, ""},
		{"plan --shard 5/4", nil, `plan: --shard "5/4": K counts from 1 to N`},
		{"plan --shard 4", nil, `plan: --shard "4" is not K/N`},
		{"plan --shard", nil, "plan: flag needs an argument: --shard"},
		// apply
		{"apply", &applyArgs{globals: defaults, output: text, MaxWait: wait5m, ShardWait: wait}, ""},
		{"apply p.json", &applyArgs{globals: defaults, output: text, MaxWait: wait5m, ShardWait: wait, PlanFile: "p.json"}, ""},
		{"apply --auto-approve --parallelism 8 --target redis -q --skip-builds",
			&applyArgs{globals: defaults, output: text, MaxWait: wait5m, ShardWait: wait, AutoApprove: true, Parallelism: 8, Quiet: true, SkipBuilds: true,
				Targets: []string{"redis"}, targets: refs(t, "redis")}, ""},
		{"apply --shard 3/4 p.json", &applyArgs{globals: defaults, output: text, MaxWait: wait5m, ShardWait: wait, PlanFile: "p.json",
			Shard: "3/4", shard: diff.Shard{K: 3, N: 4}}, ""},
		{"apply --auto-approve --shard 1/2 --shard-wait 90s", &applyArgs{globals: defaults, output: text, MaxWait: wait5m, AutoApprove: true,
			ShardWait: 90 * time.Second, Shard: "1/2", shard: diff.Shard{K: 1, N: 2}}, ""},
		{"apply --shard 0/4", nil, `apply: --shard "0/4": K counts from 1 to N`},
		{"apply --shard 1/2 --shard-wait 0s", nil, "apply: --shard-wait must be positive"},
		{"apply --shard-wait soon", nil, `apply: invalid argument "soon" for "--shard-wait" flag`},
		{"apply a.json b.json", nil, "apply: at most one plan file, got a.json b.json"},
		{"apply --parallelism 0", nil, `apply: invalid argument "0" for "--parallelism" flag: must be at least 1`},
		{"apply --parallelism x", nil, `apply: invalid argument "x" for "--parallelism" flag`},
		{"apply p.json --target redis", nil, "apply: --target and --skip-builds cannot narrow a saved plan"},
		{"apply p.json --skip-builds", nil, "apply: --target and --skip-builds cannot narrow a saved plan"},
		{"apply -h", nil, "help"},
		{"apply p.json --format markdown --max-wait 90s", &applyArgs{globals: defaults, output: output{Format: "markdown", format: view.Markdown}, MaxWait: 90 * time.Second, ShardWait: wait, PlanFile: "p.json"}, ""},
		{"apply --json --format markdown", nil, "apply: --json and --format markdown cannot be combined"},
		// verify
		{"verify", &verifyArgs{globals: defaults, output: text, MaxWait: wait5m}, ""},
		{"verify --deep --json", &verifyArgs{globals: defaults, Deep: true, output: output{JSON: true, format: view.JSON}, MaxWait: wait5m}, ""},
		{"verify --format markdown", &verifyArgs{globals: defaults, output: output{Format: "markdown", format: view.Markdown}, MaxWait: wait5m}, ""},
		{"verify now", nil, "verify: unexpected arguments: now"},
		{"verify --help", nil, "help"},
		// render
		{"render compose", &renderArgs{globals: defaults, kind: workspace.RenderCompose, Out: "compose.mirror.yaml"}, ""},
		{"render compose -o -", &renderArgs{globals: defaults, kind: workspace.RenderCompose, Out: "-"}, ""},
		{"-C repo render compose --output=deploy/c.yaml", &renderArgs{globals: globals{Dir: "repo", Config: "images.hcl", Lockfile: "images.lock"},
			kind: workspace.RenderCompose, Out: "deploy/c.yaml"}, ""},
		{"render --config ci.hcl env", &renderArgs{globals: globals{Config: "ci.hcl", Lockfile: "images.lock"}, kind: workspace.RenderEnv, Out: "-"}, ""},
		{"render env -o .env.mirror", &renderArgs{globals: defaults, kind: workspace.RenderEnv, Out: ".env.mirror"}, ""},
		{"render json --debug", &renderArgs{globals: globals{Config: "images.hcl", Lockfile: "images.lock", Debug: true}, kind: workspace.RenderJSON, Out: "-"}, ""},
		{"render", nil, "render: which one? compose, env, json or kubernetes"},
		{"render helm", nil, `render: unknown command "helm": compose, env, json or kubernetes`},
		{"render kubernetes", nil, "render kubernetes: -f FILE is required (- reads standard input)"},
		{"render kubernetes -f - --strict", &renderArgs{globals: defaults, kind: workspace.RenderKubernetes, Out: "-", In: "-", Strict: true}, ""},
		{"render compose --strict", nil, "unknown flag: --strict"},
		{"render --nope compose", nil, "render: unknown flag: --nope"},
		{"render compose --nope", nil, "render compose: unknown flag: --nope"},
		{"render compose x.yaml", nil, "render compose: unexpected arguments: x.yaml"},
		{"render compose -o", nil, "render compose: flag needs an argument: 'o' in -o"},
		{"render compose --output=", nil, "render compose: -o needs a file name"},
		{"render -h", nil, "help"},
		{"render env --help", nil, "help"},
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
		{"help lock", &helpArgs{globals: defaults, Command: []string{"lock"}}, ""},
		{"-h plan", &helpArgs{globals: defaults, Command: []string{"plan"}}, ""},
		{"help render compose", &helpArgs{globals: defaults, Command: []string{"render", "compose"}}, ""},
		{"-h render json", &helpArgs{globals: defaults, Command: []string{"render", "json"}}, ""},
		{"help nope", nil, `help: unknown command "nope"`},
		{"help render nope", nil, `help: unknown command "render nope"`},
		{"help render compose json", nil, "help: one command at most, got render compose json"},
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
		"plan\x00--format\x00markdown\x00--json", "apply\x00--max-wait\x00-5s", "lock\x00--format=json", "plan\x00--base-lock", "render\x00compose\x00-o\x00-", "-C\x00x\x00render\x00env", "apply\x00--shard\x002/4"} {
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

package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/view"
)

// arguments is the command line of one command, parsed into a plain
// struct: the struct defines its flags, takes its operands and runs.
type arguments interface {
	// globalFlags returns the flags every command accepts.
	globalFlags() *globals
	// define defines the command's own flags on fs, bound to the struct.
	define(fs *pflag.FlagSet)
	// operands takes what is left after the flags and checks the whole
	// command line; an error is a usage error.
	operands(args []string) error
	// run runs the command and returns its exit code.
	run(ctx context.Context, e *env) (int, error)
}

// globals are the flags every command accepts, before or after its name.
type globals struct {
	Dir      string // -C
	Config   string
	Lockfile string
	Debug    bool
	// LogLevel and LogFormat are --log-level and --log-format; "" is the
	// default (warn, text), --debug is --log-level debug.
	LogLevel  string
	LogFormat string
}

func (g *globals) globalFlags() *globals { return g }

func (g *globals) register(fs *pflag.FlagSet) {
	fs.StringVarP(&g.Dir, "directory", "C", "", "run as if started in `DIR` (env "+envDirectory+")")
	fs.StringVar(&g.Config, "config", config.DefaultFilename, "the config `FILE` (env "+envConfig+")")
	fs.StringVar(&g.Lockfile, "lockfile", "images.lock", "the lock `FILE`, relative to the config's directory (env "+envLockfile+")")
	fs.BoolVar(&g.Debug, "debug", false, "log requests and decisions to stderr (--log-level debug)")
	fs.StringVar(&g.LogLevel, "log-level", "", "log to stderr from `LEVEL` up: debug, info, warn or error (default warn)")
	fs.StringVar(&g.LogFormat, "log-format", "", "log as `FORMAT`: text or json (default text)")
}

// noOperands is the operands method of the commands that take none.
func noOperands(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(args, " "))
	}
	return nil
}

// output is the --format flag, with --json as its synonym.
type output struct {
	Format string
	JSON   bool
	format view.Format // Format and JSON, resolved
}

func (o *output) define(fs *pflag.FlagSet) {
	fs.StringVar(&o.Format, "format", "", "print the result as `FORMAT`: text, json or markdown (default text)")
	fs.BoolVar(&o.JSON, "json", false, "the same as --format json")
}

// resolve checks --format and --json together.
func (o *output) resolve() error {
	f, err := view.ParseFormat(o.Format)
	switch {
	case err != nil:
		return fmt.Errorf("--format: %w", err)
	case o.JSON && o.Format != "" && f != view.JSON:
		return fmt.Errorf("--json and --format %s cannot be combined", o.Format)
	case o.JSON:
		f = view.JSON
	}
	o.format = f
	return nil
}

// defineMaxWait defines --max-wait, for the commands that talk to
// registries.
func defineMaxWait(fs *pflag.FlagSet, d *time.Duration) {
	fs.DurationVar(d, "max-wait", registry.DefaultMaxWait, "wait at most `DURATION` when a registry asks to (Retry-After); told to wait longer, stop")
}

// checkMaxWait refuses a --max-wait that allows no wait at all.
func checkMaxWait(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("--max-wait must be positive, got %s", d)
	}
	return nil
}

// parseRefs parses image references given on the command line.
func parseRefs(flag string, list []string) ([]imageref.Ref, error) {
	var refs []imageref.Ref
	for _, s := range list {
		r, err := imageref.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// initArgs are the arguments of `imagesync init`.
type initArgs struct {
	globals
	Target string // "" asks on a terminal
}

func (a *initArgs) define(fs *pflag.FlagSet) {
	fs.StringVar(&a.Target, "target", "", "the `REGISTRY` to mirror to, host[:port][/namespace...]; asked for on a terminal when missing")
}

func (a *initArgs) operands(args []string) error { return noOperands(args) }

// lockArgs are the arguments of `imagesync lock`.
type lockArgs struct {
	globals
	output
	Check   bool
	Online  bool
	Upgrade bool
	MaxWait time.Duration
	Refs    []string       // with Upgrade: only these references
	only    []imageref.Ref // Refs, parsed
}

func (a *lockArgs) define(fs *pflag.FlagSet) {
	fs.BoolVar(&a.Check, "check", false, "exit 1 if images.lock is not up to date; writes nothing, no network")
	fs.BoolVar(&a.Online, "online", false, "with --check: also exit 1 if a locked digest is not what its tag points at upstream now (one HEAD per image)")
	fs.BoolVar(&a.Upgrade, "upgrade", false, "re-resolve every tag (or only the REFs given)")
	a.output.define(fs)
	defineMaxWait(fs, &a.MaxWait)
}

func (a *lockArgs) operands(args []string) error {
	if len(args) > 0 {
		a.Refs = args
	}
	if len(a.Refs) > 0 && !a.Upgrade {
		return fmt.Errorf("references given without --upgrade: %s", strings.Join(a.Refs, " "))
	}
	if a.Check && a.Upgrade {
		return fmt.Errorf("--check and --upgrade cannot be combined")
	}
	if a.Online && !a.Check {
		return fmt.Errorf("--online is for lock --check")
	}
	if err := a.output.resolve(); err != nil {
		return err
	}
	if a.format != view.Text && !a.Check {
		return fmt.Errorf("--format %s is for lock --check; lock itself prints text", a.format)
	}
	if err := checkMaxWait(a.MaxWait); err != nil {
		return err
	}
	var err error
	a.only, err = parseRefs("--upgrade", a.Refs)
	return err
}

// imagesArgs are the arguments of `imagesync images`.
type imagesArgs struct {
	globals
	output
	Discovered    bool
	TargetDigests bool
}

func (a *imagesArgs) define(fs *pflag.FlagSet) {
	fs.BoolVar(&a.Discovered, "discovered", false, "list what discovery finds instead of images.lock")
	a.output.define(fs)
	fs.BoolVar(&a.TargetDigests, "target-digests", false, "add the digest each image has in the target registry (builds are read from it)")
}

func (a *imagesArgs) operands(args []string) error {
	if err := noOperands(args); err != nil {
		return err
	}
	if a.Discovered && a.TargetDigests {
		return fmt.Errorf("--target-digests lists images.lock, not what discovery finds: drop --discovered")
	}
	return a.output.resolve()
}

// planArgs are the arguments of `imagesync plan`.
type planArgs struct {
	globals
	output
	DetailedExitCode bool
	Out              string
	Targets          []string
	Verbose          bool
	SkipBuilds       bool
	NoPreflight      bool
	BaseLock         string
	MaxWait          time.Duration
	Shard            string
	targets          []imageref.Ref // Targets, parsed
	shard            diff.Shard     // Shard, parsed
}

func (a *planArgs) define(fs *pflag.FlagSet) {
	fs.BoolVar(&a.DetailedExitCode, "detailed-exitcode", false, "exit 0 when there are no changes, 1 on error, 2 when changes are pending")
	a.output.define(fs)
	fs.StringVar(&a.Out, "out", "", "save the plan to `FILE`, for \"imagesync apply FILE\"")
	fs.StringArrayVar(&a.Targets, "target", nil, "limit the plan to this image (source or target `REF`); repeatable")
	fs.BoolVarP(&a.Verbose, "verbose", "v", false, "list unchanged images too")
	fs.BoolVar(&a.SkipBuilds, "skip-builds", false, "leave the repository's own builds out")
	fs.BoolVar(&a.NoPreflight, "no-preflight", false, "check neither the target repositories nor the source registries' rate limits")
	fs.StringVar(&a.BaseLock, "base-lock", "", "without credentials for the target, compare images.lock with this `FILE` (the base branch's lock)")
	defineMaxWait(fs, &a.MaxWait)
	fs.StringVar(&a.Shard, "shard", "", "split the plan into N parts by target repository and show part `K/N`; --out saves every part")
}

func (a *planArgs) operands(args []string) error {
	if err := noOperands(args); err != nil {
		return err
	}
	if err := a.output.resolve(); err != nil {
		return err
	}
	if err := checkMaxWait(a.MaxWait); err != nil {
		return err
	}
	var err error
	if a.shard, err = parseShard(a.Shard); err != nil {
		return err
	}
	a.targets, err = parseRefs("--target", a.Targets)
	return err
}

// parallelism is --parallelism: 0 until given, when the engine sizes it
// to the link; given, at least 1.
type parallelism int

// String is "" until given, so that help prints the default in words.
func (p *parallelism) String() string {
	if *p == 0 {
		return ""
	}
	return strconv.Itoa(int(*p))
}

func (p *parallelism) Type() string { return "int" }

func (p *parallelism) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not a number")
	}
	if n < 1 {
		return errors.New("must be at least 1")
	}
	*p = parallelism(n)
	return nil
}

// applyArgs are the arguments of `imagesync apply [PLANFILE]`.
type applyArgs struct {
	globals
	output
	PlanFile    string
	AutoApprove bool
	Parallelism int
	Targets     []string
	Quiet       bool
	SkipBuilds  bool
	MaxWait     time.Duration
	Shard       string
	ShardWait   time.Duration
	targets     []imageref.Ref // Targets, parsed
	shard       diff.Shard     // Shard, parsed
}

func (a *applyArgs) define(fs *pflag.FlagSet) {
	fs.BoolVar(&a.AutoApprove, "auto-approve", false, "apply without asking for confirmation")
	fs.Var((*parallelism)(&a.Parallelism), "parallelism", "copy `N` images at once (default 4, or 16 when the target registry is far away)")
	fs.StringArrayVar(&a.Targets, "target", nil, "limit apply to this image (source or target `REF`); repeatable")
	fs.BoolVarP(&a.Quiet, "quiet", "q", false, "print only the summary")
	fs.BoolVar(&a.SkipBuilds, "skip-builds", false, "leave the repository's own builds out")
	fs.StringVar(&a.Format, "format", "", "print the summary as `FORMAT`: text, json or markdown (default text; with the others, the plan and progress go to stderr)")
	fs.BoolVar(&a.JSON, "json", false, "the same as --format json")
	defineMaxWait(fs, &a.MaxWait)
	fs.StringVar(&a.Shard, "shard", "", "apply only part `K/N` of the plan (split by target repository), beside N-1 other runs")
	fs.DurationVar(&a.ShardWait, "shard-wait", apply.DefaultShardWait, "with --shard: how long a build waits for a base another part pushes")
}

func (a *applyArgs) operands(args []string) error {
	switch len(args) {
	case 0:
	case 1:
		a.PlanFile = args[0]
	default:
		return fmt.Errorf("at most one plan file, got %s", strings.Join(args, " "))
	}
	if a.PlanFile != "" && (len(a.Targets) > 0 || a.SkipBuilds) {
		return fmt.Errorf("--target and --skip-builds cannot narrow a saved plan; make the plan with them instead")
	}
	if err := a.output.resolve(); err != nil {
		return err
	}
	if err := checkMaxWait(a.MaxWait); err != nil {
		return err
	}
	if a.ShardWait <= 0 {
		return fmt.Errorf("--shard-wait must be positive")
	}
	var err error
	if a.shard, err = parseShard(a.Shard); err != nil {
		return err
	}
	a.targets, err = parseRefs("--target", a.Targets)
	return err
}

// parseShard parses --shard K/N; "" is the whole plan.
func parseShard(s string) (diff.Shard, error) {
	if s == "" {
		return diff.Shard{}, nil
	}
	shard, err := diff.ParseShard(s)
	if err != nil {
		return diff.Shard{}, fmt.Errorf("--shard %w", err)
	}
	return shard, nil
}

// verifyArgs are the arguments of `imagesync verify`.
type verifyArgs struct {
	globals
	output
	Deep    bool
	MaxWait time.Duration
}

func (a *verifyArgs) define(fs *pflag.FlagSet) {
	fs.BoolVar(&a.Deep, "deep", false, "also check that every child manifest and blob is present")
	a.output.define(fs)
	defineMaxWait(fs, &a.MaxWait)
}

func (a *verifyArgs) operands(args []string) error {
	if err := noOperands(args); err != nil {
		return err
	}
	if err := a.output.resolve(); err != nil {
		return err
	}
	return checkMaxWait(a.MaxWait)
}

// versionArgs are the arguments of `imagesync version`.
type versionArgs struct {
	globals
	JSON bool
}

func (a *versionArgs) define(fs *pflag.FlagSet) {
	fs.BoolVar(&a.JSON, "json", false, "print version, commit, date, Go version and the lock and plan format versions as JSON")
}
func (a *versionArgs) operands(args []string) error { return noOperands(args) }

// helpArgs are the arguments of `imagesync help [COMMAND [SUBCOMMAND]]`.
type helpArgs struct {
	globals
	Command []string // nil for the list of commands; "render", "compose"
}

func (a *helpArgs) define(*pflag.FlagSet) {}

func (a *helpArgs) operands(args []string) error {
	switch {
	case len(args) > 2 || (len(args) == 2 && findCommand(args[0]) != nil && findCommand(args[0]).subcommands == nil):
		return fmt.Errorf("one command at most, got %s", strings.Join(args, " "))
	case len(args) > 0 && lookupCommand(args) == nil:
		return fmt.Errorf("unknown command %q", strings.Join(args, " "))
	case len(args) > 0:
		a.Command = args
	}
	return nil
}

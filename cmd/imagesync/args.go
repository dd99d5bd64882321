package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// usageError is a mistake in the command line; it exits with code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// globals are the flags every command accepts.
type globals struct {
	Dir      string // -C
	Config   string
	Lockfile string
	Debug    bool
}

func (g *globals) register(fs *pflag.FlagSet) {
	fs.StringVarP(&g.Dir, "directory", "C", "", "run as if started in `DIR`")
	fs.StringVar(&g.Config, "config", "images.hcl", "config `FILE`")
	fs.StringVar(&g.Lockfile, "lockfile", "images.lock", "lock `FILE`, relative to the config's directory")
	fs.BoolVar(&g.Debug, "debug", false, "log requests and decisions to stderr")
}

// lockArgs are the arguments of `imagesync lock`.
type lockArgs struct {
	globals
	Check   bool
	Upgrade bool
	Refs    []string // with Upgrade: only these references
}

// imagesArgs are the arguments of `imagesync images`.
type imagesArgs struct {
	globals
	Discovered bool
	JSON       bool
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	return fs
}

// splitGlobal parses the global flags that precede the command name, and
// returns the command name and the rest.
func splitGlobal(args []string, g *globals) (string, []string, error) {
	fs := newFlagSet("imagesync")
	fs.SetInterspersed(false)
	g.register(fs)
	var help, version bool
	fs.BoolVarP(&help, "help", "h", false, "")
	fs.BoolVar(&version, "version", false, "")
	if err := fs.Parse(args); err != nil {
		return "", nil, usagef("%v", err)
	}
	rest := fs.Args()
	switch {
	case help:
		return "help", rest, nil
	case version:
		return "version", rest, nil
	case len(rest) == 0:
		return "", nil, usagef("no command given")
	}
	// Flags given before the command are passed on so that the command's
	// own flag set, which also knows them, records them.
	before := args[:len(args)-len(rest)]
	return rest[0], append(append([]string(nil), before...), rest[1:]...), nil
}

func (a *lockArgs) flags() *pflag.FlagSet {
	fs := newFlagSet("lock")
	a.register(fs)
	fs.BoolVar(&a.Check, "check", false, "exit 1 if images.lock is not up to date; writes nothing, no network")
	fs.BoolVar(&a.Upgrade, "upgrade", false, "re-resolve every tag (or only the REFs given)")
	return fs
}

func parseLock(args []string) (*lockArgs, error) {
	a := &lockArgs{}
	fs := a.flags()
	if err := fs.Parse(args); err != nil {
		return nil, usagef("lock: %v", err)
	}
	a.Refs = fs.Args()
	if len(a.Refs) > 0 && !a.Upgrade {
		return nil, usagef("lock: references given without --upgrade: %s", strings.Join(a.Refs, " "))
	}
	if a.Check && a.Upgrade {
		return nil, usagef("lock: --check and --upgrade cannot be combined")
	}
	return a, nil
}

func (a *imagesArgs) flags() *pflag.FlagSet {
	fs := newFlagSet("images")
	a.register(fs)
	fs.BoolVar(&a.Discovered, "discovered", false, "list what discovery finds instead of images.lock")
	fs.BoolVar(&a.JSON, "json", false, "print JSON")
	return fs
}

func parseImages(args []string) (*imagesArgs, error) {
	a := &imagesArgs{}
	fs := a.flags()
	if err := fs.Parse(args); err != nil {
		return nil, usagef("images: %v", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("images: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return a, nil
}

func parseNoArgs(name string, args []string) (*globals, error) {
	g := &globals{}
	fs := newFlagSet(name)
	g.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, usagef("%s: %v", name, err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("%s: unexpected arguments: %s", name, strings.Join(fs.Args(), " "))
	}
	return g, nil
}

// planArgs are the arguments of `imagesync plan`.
type planArgs struct {
	globals
	DetailedExitCode bool
	JSON             bool
	Out              string
	Targets          []string
	Verbose          bool
	SkipBuilds       bool
}

func (a *planArgs) flags() *pflag.FlagSet {
	fs := newFlagSet("plan")
	a.register(fs)
	fs.BoolVar(&a.DetailedExitCode, "detailed-exitcode", false, "exit 0 when there are no changes, 1 on error, 2 when changes are pending")
	fs.BoolVar(&a.JSON, "json", false, "print the plan as JSON")
	fs.StringVar(&a.Out, "out", "", "save the plan to `FILE`, for `imagesync apply FILE`")
	fs.StringArrayVar(&a.Targets, "target", nil, "limit the plan to this image (source or target `REF`); repeatable")
	fs.BoolVarP(&a.Verbose, "verbose", "v", false, "list unchanged images too")
	fs.BoolVar(&a.SkipBuilds, "skip-builds", false, "leave the repository's own builds out")
	return fs
}

func parsePlan(args []string) (*planArgs, error) {
	a := &planArgs{}
	fs := a.flags()
	if err := fs.Parse(args); err != nil {
		return nil, usagef("plan: %v", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("plan: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return a, nil
}

// applyArgs are the arguments of `imagesync apply [PLANFILE]`.
type applyArgs struct {
	globals
	PlanFile    string
	AutoApprove bool
	Parallelism int
	Targets     []string
	Quiet       bool
	SkipBuilds  bool
}

func (a *applyArgs) flags() *pflag.FlagSet {
	fs := newFlagSet("apply")
	a.register(fs)
	fs.BoolVar(&a.AutoApprove, "auto-approve", false, "apply without asking for confirmation")
	fs.IntVar(&a.Parallelism, "parallelism", 4, "copy `N` images at once")
	fs.StringArrayVar(&a.Targets, "target", nil, "limit apply to this image (source or target `REF`); repeatable")
	fs.BoolVarP(&a.Quiet, "quiet", "q", false, "print only the summary")
	fs.BoolVar(&a.SkipBuilds, "skip-builds", false, "leave the repository's own builds out")
	return fs
}

func parseApply(args []string) (*applyArgs, error) {
	a := &applyArgs{}
	fs := a.flags()
	if err := fs.Parse(args); err != nil {
		return nil, usagef("apply: %v", err)
	}
	switch fs.NArg() {
	case 0:
	case 1:
		a.PlanFile = fs.Arg(0)
	default:
		return nil, usagef("apply: at most one plan file, got %s", strings.Join(fs.Args(), " "))
	}
	if a.Parallelism < 1 {
		return nil, usagef("apply: --parallelism must be at least 1")
	}
	if a.PlanFile != "" && (len(a.Targets) > 0 || a.SkipBuilds) {
		return nil, usagef("apply: --target and --skip-builds cannot narrow a saved plan; make the plan with them instead")
	}
	return a, nil
}

// verifyArgs are the arguments of `imagesync verify`.
type verifyArgs struct {
	globals
	Deep bool
	JSON bool
}

func (a *verifyArgs) flags() *pflag.FlagSet {
	fs := newFlagSet("verify")
	a.register(fs)
	fs.BoolVar(&a.Deep, "deep", false, "also check that every child manifest and blob is present")
	fs.BoolVar(&a.JSON, "json", false, "print the problems as JSON")
	return fs
}

func parseVerify(args []string) (*verifyArgs, error) {
	a := &verifyArgs{}
	fs := a.flags()
	if err := fs.Parse(args); err != nil {
		return nil, usagef("verify: %v", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("verify: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return a, nil
}

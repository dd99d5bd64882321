package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// command is one row of the command table. Dispatch, `help`, `help NAME`,
// `NAME -h/--help` and the usage text are all generated from the table, so
// that they cannot disagree.
type command struct {
	name     string
	synopsis string // what follows "imagesync NAME" on the usage line
	summary  string // one line in the list of commands
	help     string // the paragraphs of `imagesync help NAME`
	// args returns a fresh argument struct: its flags, operands and run.
	args func() arguments
	// subcommands, when set, make this a family (render): its first
	// operand names one of them, which is parsed and run in its stead,
	// under the name "<family> <subcommand>".
	subcommands func() []command
}

// commands returns the command table, in the order the usage text lists
// it. It is a function, not a variable, because `help` reads the table.
func commands() []command {
	return slices.Concat(lockCommands(), registryCommands(), infoCommands())
}

// lockCommands are the commands of the repository's files: images.hcl and
// images.lock.
func lockCommands() []command {
	return []command{
		{
			name: "init", synopsis: "--target REGISTRY",
			summary: "write a first images.hcl for this repository",
			help: `Looks at the repository (compose files by docker compose's default names,
Dockerfiles under the tree, templates and backups to leave out) and writes a
commented images.hcl mirroring to REGISTRY. It never overwrites an existing
file. Without --target it asks for the registry on a terminal.`,
			args: func() arguments { return &initArgs{} },
		},
		{
			name: "lock", synopsis: "[--check [--online] [--format text|json|markdown]] [--upgrade [REF...]]",
			summary: "discover images, resolve them to digests, write images.lock",
			help: `Discovers the images of the repository, resolves new ones to digests and
writes images.lock. Locked digests are kept unless --upgrade is given.
--check writes nothing and needs no network: it exits 1 when images.lock
does not match the config and files, naming the command that updates it
(in a GitHub Actions job, also as annotations on images.lock). --online also
asks upstream, one HEAD per image, what each locked tag points at now, and
exits 1 listing the locked digests it does not (a lock edited by hand, or a
tag moved since) and the tags it could not check.`,
			args: func() arguments { return &lockArgs{} },
		},
		{
			name: "images", synopsis: "[--discovered] [--format text|json|markdown]",
			summary: "list the images of images.lock (or --discovered)",
			help:    `Lists the images of images.lock, or what discovery finds with --discovered.`,
			args:    func() arguments { return &imagesArgs{} },
		},
		{
			name: "diff", synopsis: "OLD.lock NEW.lock [--format text|json|markdown]",
			summary: "show what a change of images.lock does, offline",
			help: `Compares two lockfiles, offline: the images added and removed, the digests
moved, the targets changed, the builds added, removed or to rebuild (inputs
changed), and the signatures, attestations and SBOMs pinned or dropped. For
the reviewer of a pull request that bumps images:

  git show origin/main:images.lock > base.lock
  imagesync diff base.lock images.lock

Exits 0 whether or not the locks differ, 1 when a lockfile is missing or
does not parse. The two files are read as named (relative to -C), not through
--config or --lockfile.`,
			args: func() arguments { return &diffArgs{} },
		},
	}
}

// registryCommands are the commands that read or write the target
// registry.
func registryCommands() []command {
	return []command{
		{
			name: "plan", synopsis: "[--detailed-exitcode] [--format text|json|markdown] [--out FILE] [--target REF]... [--skip-builds] [--no-preflight] [--base-lock FILE] [--shard K/N] [-v]",
			summary: "show what apply would change in the target registry",
			help: `Compares images.lock with the target registry (one HEAD per image) and shows
what apply would create, update, build or rebuild.

Preflight, changing nothing: every target repository the plan writes to is
checked (ok, will be created on push, missing, no push permission, could not
check), and the pulls apply sends to each source registry are counted and
compared with its rate limit, read from one HEAD of a locked manifest.
--no-preflight skips the checks and that HEAD. Plan exits 1 when apply is
certain to fail (a repository missing, or no push permission).

Review: the tag of every image to create or update is asked upstream (one HEAD
each, alongside the target's), and a locked digest the tag does not point at
now is marked as unusual, with both digests; a change that writes outside
target.registry's host is said on a line of its own, and every tag apply
writes besides the targets' own is listed.

Without credentials for the target (a pull request from a fork), --base-lock
FILE compares images.lock with the base branch's lock instead ("target not
compared"). With --detailed-exitcode plan exits 2 when changes are pending, and
only then. In a GitHub Actions job the plan is also appended, as markdown, to
the step summary.`,
			args: func() arguments { return &planArgs{} },
		},
		{
			name: "apply", synopsis: "[PLANFILE] [--auto-approve] [--parallelism N] [--target REF]... [--skip-builds] [--max-wait DURATION] [--shard K/N] [-q]",
			summary: "push what differs (images by digest, builds), after confirmation",
			help: `Plans, asks for confirmation (or applies a saved plan as it is), then copies each
image by digest and runs the builds, leaving the target matching images.lock.
A registry asking (Retry-After) for a longer pause than --max-wait stops the
run cleanly: what is in flight finishes, the summary says when to run again.`,
			args: func() arguments { return &applyArgs{} },
		},
		{
			name: "render", synopsis: "compose|env|json|kubernetes [-o FILE]",
			summary: "write what deployments need to run the stack from the target registry",
			help: `Writes images.lock for deployments: every image as <target repository>@<digest>,
by digest only, so that what runs is what was reviewed and no tag can drift.
The repository's own builds are read from the target registry, where the image
must carry the locked inputs (run "imagesync apply" first).`,
			args:        func() arguments { return &familyArgs{} },
			subcommands: renderCommands,
		},
		{
			name: "verify", synopsis: "[--deep] [--format text|json|markdown]",
			summary: "check the target registry against images.lock, changing nothing",
			help: `Checks that every target reference resolves to its locked digest and, with --deep,
that every child manifest and blob is present. Changes nothing.`,
			args: func() arguments { return &verifyArgs{} },
		},
	}
}

// infoCommands tell about imagesync itself.
func infoCommands() []command {
	return []command{
		{
			name: "version", synopsis: "[--json]", summary: "print the version",
			help: `Prints the version and the VCS revision imagesync was built from (a release
binary: its tag). --json adds the commit's date, the Go version and the
versions of the images.lock and saved plan formats this imagesync reads.`,
			args: func() arguments { return &versionArgs{} },
		},
		{
			name: "completion", synopsis: "bash|zsh|fish|powershell",
			summary: "print the shell completion script",
			help: `Prints the completion script of a shell, generated from the command table:
commands, subcommands, every flag, the values of --format and --log-level, file
names where a flag takes a file.

  bash:        source <(imagesync completion bash)
  zsh:         source <(imagesync completion zsh)
  fish:        imagesync completion fish | source
  PowerShell:  imagesync completion powershell | Out-String | Invoke-Expression

Release archives hold the scripts under completions/.`,
			args: func() arguments { return &completionArgs{} },
		},
		{
			name: "man", synopsis: "[-o DIR]",
			summary: "write the man pages",
			help: `Writes imagesync.1 and one page per command (imagesync-plan.1, ...), generated
from the command table, into DIR. Release archives hold them under manpages/.`,
			args: func() arguments { return &manArgs{} },
		},
		{
			name: "help", synopsis: "[COMMAND]",
			summary: "show the list of commands, or a command's help",
			help:    `Shows the list of commands, or the help of COMMAND (the same as "imagesync COMMAND --help").`,
			args:    func() arguments { return &helpArgs{} },
		},
	}
}

// findCommand returns the command called name, or nil.
func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return &c
		}
	}
	return nil
}

// errHelp means -h or --help was given: the command's help is wanted.
var errHelp = errors.New("help requested")

// errNoCommand is a command line without a command: the usage is wanted.
var errNoCommand = errors.New("no command given")

// usageError is a mistake in the command line. It exits 1 like any error
// (as Terraform's do), so that exit 2 of plan --detailed-exitcode means
// "changes pending" and nothing else.
type usageError struct {
	command string // "" for a mistake before the command name
	msg     string
}

func (e *usageError) Error() string {
	if e.command == "" {
		return e.msg
	}
	return e.command + ": " + e.msg
}

// parseCommandLine finds the command in the table and parses its
// arguments, without reading the environment. With errHelp the command is
// returned too.
func parseCommandLine(args []string) (*command, arguments, error) {
	return parseCommandLineEnv(args, nil)
}

// parseCommandLineEnv is parseCommandLine with the global flags' environment
// variables (IMAGESYNC_CONFIG, ...) read through getenv; the command line
// wins over them. getenv may be nil.
func parseCommandLineEnv(args []string, getenv func(string) string) (*command, arguments, error) {
	name, rest, err := splitGlobal(args)
	if err != nil {
		return nil, nil, err
	}
	if name == "" {
		return nil, nil, errNoCommand
	}
	c := findCommand(name)
	if c == nil {
		return nil, nil, &usageError{msg: fmt.Sprintf("unknown command %q", name)}
	}
	if c.subcommands != nil {
		return c.parseSubcommand(rest, getenv)
	}
	a, err := c.parse(rest, getenv)
	return c, a, err
}

// parseSubcommand finds the subcommand named by the first operand of a
// family, after any global flags, and parses the rest of the line as its
// own. -h/--help, or nothing, before the subcommand asks for the family's
// help.
func (c *command) parseSubcommand(args []string, getenv func(string) string) (*command, arguments, error) {
	var g globals
	fs := globalFlagSet(&g)
	fs.SetInterspersed(false)
	help := fs.BoolP("help", "h", false, "")
	if err := fs.Parse(args); err != nil {
		return c, nil, &usageError{command: c.name, msg: err.Error()}
	}
	rest := fs.Args()
	switch {
	case *help:
		return c, nil, errHelp
	case len(rest) == 0:
		return c, nil, &usageError{command: c.name, msg: "which one? " + c.subcommandNames()}
	}
	sub := c.subcommand(rest[0])
	if sub == nil {
		return c, nil, &usageError{command: c.name, msg: fmt.Sprintf("unknown command %q: %s", rest[0], c.subcommandNames())}
	}
	before := args[:len(args)-len(rest)]
	a, err := sub.parse(append(append([]string(nil), before...), rest[1:]...), getenv)
	return sub, a, err
}

// subcommand returns the family's subcommand called name, named
// "<family> <name>", or nil.
func (c *command) subcommand(name string) *command {
	for _, sub := range c.subcommands() {
		if sub.name == name {
			sub.name = c.name + " " + name
			return &sub
		}
	}
	return nil
}

// subcommandNames lists a family's subcommands: "compose, env or json".
func (c *command) subcommandNames() string {
	var names []string
	for _, sub := range c.subcommands() {
		names = append(names, sub.name)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// lookupCommand finds a command by its words: "plan", "render compose".
func lookupCommand(words []string) *command {
	if len(words) == 0 || len(words) > 2 {
		return nil
	}
	c := findCommand(words[0])
	switch {
	case c == nil || len(words) == 1:
		return c
	case c.subcommands == nil:
		return nil
	}
	return c.subcommand(words[1])
}

// parse parses the command's arguments: the global flags' environment
// variables, then its own flags, the global flags and -h/--help anywhere,
// then the operands.
func (c *command) parse(args []string, getenv func(string) string) (arguments, error) {
	a := c.args()
	fs, help := c.flagSet(a)
	global := globalFlagSet(a.globalFlags())
	if err := setFromEnv(global, getenv); err != nil {
		return nil, &usageError{command: c.name, msg: err.Error()}
	}
	fs.AddFlagSet(global)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{command: c.name, msg: err.Error()}
	}
	if *help {
		return nil, errHelp
	}
	if err := a.globalFlags().check(); err != nil {
		return nil, &usageError{command: c.name, msg: err.Error()}
	}
	if err := a.operands(fs.Args()); err != nil {
		return nil, &usageError{command: c.name, msg: err.Error()}
	}
	return a, nil
}

// flagSet returns the command's own flags on a as a flag set, with -h/--help.
func (c *command) flagSet(a arguments) (*pflag.FlagSet, *bool) {
	fs := newFlagSet(c.name)
	a.define(fs)
	help := fs.BoolP("help", "h", false, "show this help")
	return fs, help
}

// globalFlagSet returns the global flags, bound to g.
func globalFlagSet(g *globals) *pflag.FlagSet {
	fs := newFlagSet("imagesync")
	g.register(fs)
	return fs
}

// newFlagSet returns a flag set that reports errors instead of exiting or
// printing.
func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	return fs
}

// splitGlobal parses the global flags that precede the command name and
// returns the command name and its arguments. -h/--help and --version
// before any command name stand for the help and version commands.
func splitGlobal(args []string) (string, []string, error) {
	var g globals
	fs := globalFlagSet(&g)
	fs.SetInterspersed(false)
	help := fs.BoolP("help", "h", false, "")
	version := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		return "", nil, &usageError{msg: err.Error()}
	}
	rest := fs.Args()
	switch {
	case *help:
		return "help", rest, nil
	case *version:
		return "version", rest, nil
	case len(rest) == 0:
		return "", nil, nil
	}
	// The global flags given before the command are passed on, so that
	// the command's flag set, which knows them too, records them.
	before := args[:len(args)-len(rest)]
	return rest[0], append(append([]string(nil), before...), rest[1:]...), nil
}

// commandHelp is the help of one command: `help NAME` and `NAME --help`.
func commandHelp(c *command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: imagesync %s", c.name)
	if c.synopsis != "" {
		fmt.Fprintf(&b, " %s", c.synopsis)
	}
	fmt.Fprintf(&b, "\n\n%s\n\n", c.help)
	if c.subcommands != nil {
		b.WriteString("Commands:\n")
		b.WriteString(commandList(c.subcommands()))
		fmt.Fprintf(&b, "\nRun \"imagesync help %s COMMAND\" for a command's flags.\n\n", c.name)
	}
	b.WriteString("Flags:\n")
	a := c.args()
	fs, _ := c.flagSet(a)
	b.WriteString(flagUsages(fs))
	fmt.Fprintf(&b, "\nGlobal flags:\n%s", flagUsages(globalFlagSet(a.globalFlags())))
	return b.String()
}

// usage is the text of `imagesync help`, generated from the command table.
func usage() string {
	var b strings.Builder
	b.WriteString(`Usage: imagesync [global flags] <command> [flags]

imagesync pins every image a repository needs in images.lock and mirrors
exactly those digests to your registry.

Commands:
`)
	b.WriteString(commandList(commands()))
	fmt.Fprintf(&b, "\nGlobal flags (before or after the command):\n%s", flagUsages(globalFlagSet(&globals{})))
	b.WriteString(`
Exit codes: 0 success; 1 any error, usage errors included (and a stale lock
with lock --check, a plan apply is certain to fail, an apply stopped by a
registry's Retry-After); 2 only with plan --detailed-exitcode: changes pending.

Run "imagesync help COMMAND" or "imagesync COMMAND --help" for a command's flags.
`)
	return b.String()
}

// commandList lists commands with their summaries, one a line, aligned.
func commandList(list []command) string {
	var b strings.Builder
	width := 0
	for _, c := range list {
		width = max(width, len(c.name))
	}
	for _, c := range list {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
	}
	return b.String()
}

// flagUsages lists the flags of fs, one a line, aligned. pflag's own
// FlagUsages marks every boolean flag "[=true|false]", which only says
// that "--json=false" is allowed and buries the flags people look for.
func flagUsages(fs *pflag.FlagSet) string {
	var names, usages []string
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		name := "    --" + f.Name
		if f.Shorthand != "" {
			name = "-" + f.Shorthand + ", --" + f.Name
		}
		arg, usage := pflag.UnquoteUsage(f)
		if arg != "" && f.Value.Type() != "bool" {
			name += " " + arg
		}
		if f.Value.Type() != "bool" && f.DefValue != "" && f.DefValue != "[]" {
			usage += " (default " + f.DefValue + ")"
		}
		names, usages = append(names, name), append(usages, usage)
		width = max(width, len(name))
	})
	var b strings.Builder
	for i := range names {
		fmt.Fprintf(&b, "  %-*s   %s\n", width, names[i], usages[i])
	}
	return b.String()
}

package main

import (
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// docCommand is one command of the table as shell completions and man
// pages describe it: every command, a family's subcommands under their
// full name ("render compose"), with its flags.
type docCommand struct {
	name     string // "plan", "render compose"
	family   bool   // it has subcommands (render)
	synopsis string
	summary  string
	help     string
	flags    []docFlag // its own flags, -h/--help last
	operands string    // what its operands complete to: "", "files", or words
}

// docFlag is one flag as completions and man pages name it.
type docFlag struct {
	name, short string
	arg         string // the placeholder of its value ("FILE"); "" for a boolean
	usage       string
	values      []string // the values it takes, when it takes a fixed few
}

// docCommands returns the command table flattened: each command, then
// its subcommands.
func docCommands() []docCommand {
	var out []docCommand
	for _, c := range commands() {
		out = append(out, newDocCommand(c))
		if c.subcommands != nil {
			for _, sub := range c.subcommands() {
				out = append(out, newDocCommand(*c.subcommand(sub.name)))
			}
		}
	}
	return out
}

func newDocCommand(c command) docCommand {
	d := docCommand{name: c.name, family: c.subcommands != nil, synopsis: c.synopsis, summary: c.summary, help: c.help,
		operands: operandCompletion(c.name)}
	fs, _ := c.flagSet(c.args())
	d.flags = docFlags(fs)
	return d
}

// docGlobalFlags are the global flags, with -h/--help and --version as the
// command line accepts them before any command.
func docGlobalFlags() []docFlag {
	return docFlags(globalFlagSet(&globals{}))
}

func docFlags(fs *pflag.FlagSet) []docFlag {
	var out []docFlag
	fs.VisitAll(func(f *pflag.Flag) {
		arg, usage := pflag.UnquoteUsage(f)
		d := docFlag{name: f.Name, short: f.Shorthand, usage: usage}
		if f.Value.Type() != "bool" {
			d.arg = arg
			if d.arg == "" {
				d.arg = "VALUE"
			}
		}
		d.values = flagValues(f.Name)
		out = append(out, d)
	})
	return out
}

// flagValues are the values a flag takes when they are a fixed few, for
// completion; nil for any other flag.
func flagValues(name string) []string {
	switch name {
	case "format":
		return []string{"text", "json", "markdown"}
	case "log-level":
		return []string{"debug", "info", "warn", "error"}
	case "log-format":
		return []string{"text", "json"}
	}
	return nil
}

// operandCompletion is what a command's operands complete to.
func operandCompletion(name string) string {
	switch name {
	case "completion":
		return strings.Join(completionShells(), " ")
	case "help":
		var names []string
		for _, c := range commands() {
			names = append(names, c.name)
		}
		return strings.Join(names, " ")
	case "apply", "diff":
		return "files"
	}
	return ""
}

// fileFlag reports whether a flag's value is a file or directory name.
func (f docFlag) fileFlag() bool {
	return slices.Contains([]string{"FILE", "DIR", "FILE|-"}, f.arg)
}

// names are the ways to type the flag: "--name" and "-s".
func (f docFlag) names() []string {
	n := []string{"--" + f.name}
	if f.short != "" {
		n = append(n, "-"+f.short)
	}
	return n
}

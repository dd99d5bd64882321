package main

import (
	"fmt"
	"strings"
)

// manPage is one generated man page: its file name and roff source.
type manPage struct {
	name string // "imagesync.1", "imagesync-render-compose.1"
	text string
}

// manPages returns the man pages of imagesync, generated from the command
// table as `help` is: imagesync(1) with the commands, the global flags,
// the environment and the exit codes, and imagesync-COMMAND(1) for every
// command and subcommand.
func manPages() []manPage {
	cmds := docCommands()
	pages := []manPage{{name: "imagesync.1", text: mainManPage(cmds)}}
	for _, c := range cmds {
		pages = append(pages, manPage{name: manName(c.name) + ".1", text: commandManPage(c)})
	}
	return pages
}

// manName is the page name of a command: "imagesync-render-compose".
func manName(command string) string {
	return "imagesync-" + strings.ReplaceAll(command, " ", "-")
}

func manHeader(b *strings.Builder, title, summary string) {
	fmt.Fprintf(b, ".TH %s 1 \"\" \"imagesync\" \"imagesync manual\"\n", strings.ToUpper(roffEscape(title)))
	fmt.Fprintf(b, ".SH NAME\n%s \\- %s\n", roffEscape(title), roffEscape(summary))
}

func mainManPage(cmds []docCommand) string {
	var b strings.Builder
	manHeader(&b, "imagesync", "pin every image a repository needs in images.lock and mirror exactly those digests")
	b.WriteString(".SH SYNOPSIS\n.B imagesync\n[global flags] \\fIcommand\\fR [flags]\n")
	b.WriteString(".SH DESCRIPTION\n")
	b.WriteString(roffText(`imagesync finds every container image a repository needs (compose files, Dockerfiles, Helm charts,
kustomize, manifests, the images it builds), pins each to a digest in a committed images.lock, and
mirrors exactly those digests to the team's registry: plan shows what would change, apply pushes
only that, verify audits.`))
	b.WriteString(".SH COMMANDS\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s (\\fB%s\\fR(1))\n", roffEscape("imagesync "+c.name), roffEscape(c.summary), roffEscape(manName(c.name)))
	}
	b.WriteString(".SH GLOBAL FLAGS\n")
	writeManFlags(&b, docGlobalFlags())
	b.WriteString(".SH ENVIRONMENT\n")
	for _, e := range globalEnv {
		fmt.Fprintf(&b, ".TP\n.B %s\nsets \\-\\-%s; the flag wins over it.\n", e.env, e.flag)
	}
	b.WriteString(".TP\n.B DOCKER_CONFIG\nthe directory of docker's config.json, where registry credentials are read.\n")
	b.WriteString(".TP\n.B REGISTRY_AUTH_FILE\nthe credentials file of podman, buildah and skopeo, read before docker's config.\n")
	b.WriteString(".TP\n.B NO_COLOR\nimagesync draws no colour; progress bars are drawn only on a terminal whose TERM is not dumb.\n")
	b.WriteString(".SH EXIT STATUS\n")
	b.WriteString(".TP\n.B 0\nsuccess; plan \\-\\-detailed\\-exitcode: no changes.\n")
	b.WriteString(".TP\n.B 1\nany error, usage errors included (a stale lock with lock \\-\\-check, a plan apply is certain to fail, an apply stopped by a registry's Retry\\-After).\n")
	b.WriteString(".TP\n.B 2\nonly plan \\-\\-detailed\\-exitcode: changes pending.\n")
	return b.String()
}

func commandManPage(c docCommand) string {
	var b strings.Builder
	manHeader(&b, manName(c.name), c.summary)
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n%s\n", roffEscape("imagesync "+c.name), roffEscape(c.synopsis))
	b.WriteString(".SH DESCRIPTION\n")
	b.WriteString(roffText(c.help))
	b.WriteString(".SH FLAGS\n")
	writeManFlags(&b, c.flags)
	b.WriteString(".SH GLOBAL FLAGS\nSee \\fBimagesync\\fR(1).\n")
	return b.String()
}

func writeManFlags(b *strings.Builder, flags []docFlag) {
	for _, f := range flags {
		names := "\\fB\\-\\-" + roffEscape(f.name) + "\\fR"
		if f.short != "" {
			names = "\\fB\\-" + roffEscape(f.short) + "\\fR, " + names
		}
		if f.arg != "" {
			names += " \\fI" + roffEscape(f.arg) + "\\fR"
		}
		fmt.Fprintf(b, ".TP\n%s\n%s\n", names, roffEscape(f.usage))
	}
}

// roffText is paragraphs of help text as roff: a blank line starts a new
// paragraph, lines keep their breaks.
func roffText(text string) string {
	var b strings.Builder
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		b.WriteString(".PP\n")
		for _, line := range strings.Split(para, "\n") {
			b.WriteString(roffEscape(strings.TrimSpace(line)) + "\n")
		}
	}
	return b.String()
}

// roffEscape makes text safe on a roff line: backslashes and hyphens
// escaped, a leading dot or quote (a request) disarmed.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

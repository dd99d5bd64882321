package main

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"
)

const usageText = `Usage: imagesync [-C DIR] [--config FILE] [--lockfile FILE] <command> [flags]

imagesync pins every image a repository needs in images.lock and mirrors
exactly those digests to your registry.

Commands:
  lock      discover images, resolve them to digests, write images.lock
  images    list the images of images.lock (or --discovered)
  version   print the version
  help      show help for a command

Global flags:
  -C, --directory DIR   run as if started in DIR
      --config FILE     config file (default images.hcl)
      --lockfile FILE   lock file, relative to the config's directory (default images.lock)
      --debug           log requests and decisions to stderr

Exit codes: 0 success, 1 error (or a stale lock with lock --check), 2 usage error.
`

func writeUsage(w io.Writer) { fmt.Fprint(w, usageText) }

func runHelp(stdout, stderr io.Writer, args []string) int {
	if len(args) == 0 {
		writeUsage(stdout)
		return exitOK
	}
	var fs *pflag.FlagSet
	var synopsis string
	switch args[0] {
	case "lock":
		fs = (&lockArgs{}).flags()
		synopsis = "imagesync lock [--check] [--upgrade [REF...]]\n\n" +
			"Discovers the images of the repository, resolves new ones to digests and\n" +
			"writes images.lock. Locked digests are kept unless --upgrade is given.\n" +
			"--check writes nothing and needs no network: it exits 1 when images.lock\n" +
			"does not match the config and files."
	case "images":
		fs = (&imagesArgs{}).flags()
		synopsis = "imagesync images [--discovered] [--json]\n\n" +
			"Lists the images of images.lock, or what discovery finds with --discovered."
	case "version", "help":
		fmt.Fprintf(stdout, "imagesync %s\n", args[0])
		return exitOK
	default:
		fmt.Fprintf(stderr, "imagesync: unknown command %q\n", args[0])
		return exitUsage
	}
	fmt.Fprintf(stdout, "Usage: %s\n\nFlags:\n%s", synopsis, fs.FlagUsages())
	return exitOK
}

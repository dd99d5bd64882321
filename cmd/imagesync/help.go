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
  plan      show what apply would change in the target registry
  apply     push what differs (images by digest, builds), after confirmation
  verify    check the target registry against images.lock, changing nothing
  version   print the version
  help      show help for a command

Global flags:
  -C, --directory DIR   run as if started in DIR
      --config FILE     config file (default images.hcl)
      --lockfile FILE   lock file, relative to the config's directory (default images.lock)
      --debug           log requests and decisions to stderr

Exit codes: 0 success, 1 error (or a stale lock with lock --check), 2 usage error;
plan --detailed-exitcode: 0 no changes, 1 error, 2 changes pending.
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
	case "plan":
		fs = (&planArgs{}).flags()
		synopsis = "imagesync plan [--detailed-exitcode] [--json] [--out FILE] [--target REF]... [--skip-builds] [-v]\n\n" +
			"Compares images.lock with the target registry (one HEAD per image, nothing sent to\n" +
			"source registries) and shows what apply would create, update, build or rebuild."
	case "apply":
		fs = (&applyArgs{}).flags()
		synopsis = "imagesync apply [PLANFILE] [--auto-approve] [--parallelism N] [--target REF]... [--skip-builds] [-q]\n\n" +
			"Plans, asks for confirmation (or applies a saved plan as it is), then copies each\n" +
			"image by digest and runs the builds, leaving the target matching images.lock."
	case "verify":
		fs = (&verifyArgs{}).flags()
		synopsis = "imagesync verify [--deep] [--json]\n\n" +
			"Checks that every target reference resolves to its locked digest and, with --deep,\n" +
			"that every child manifest and blob is present. Changes nothing."
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

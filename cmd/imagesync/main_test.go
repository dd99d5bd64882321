package main

import (
	"os"
	"testing"

	"github.com/imagesync/imagesync/internal/helmrender"
)

// TestMain serves the hidden Helm subcommand as main does: a command run
// by a test renders charts in a child process, and the child is this
// test binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == helmrender.ChildCommand {
		os.Exit(helmrender.ServeChild(os.Args[2:], os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

package main

import (
	"context"
	"io"
	"runtime/debug"

	"github.com/imagesync/imagesync/internal/view"
)

// version overrides the version from the build info when set at link time
// with -ldflags "-X main.version=...", for builds without module or VCS
// information (a source tarball).
var version string

func (a *helpArgs) run(_ context.Context, e *env) (int, error) {
	text := usage()
	if len(a.Command) > 0 {
		text = commandHelp(lookupCommand(a.Command))
	}
	_, err := io.WriteString(e.stdout, text)
	return exitOK, err
}

func (a *versionArgs) run(_ context.Context, e *env) (int, error) {
	info, _ := debug.ReadBuildInfo()
	_, err := io.WriteString(e.stdout, view.Version(info, version)+"\n")
	return exitOK, err
}

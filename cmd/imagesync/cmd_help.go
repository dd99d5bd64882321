package main

import (
	"context"
	"io"
	"runtime/debug"

	"github.com/imagesync/imagesync/internal/view"
)

// version, commit and date are set at link time by release builds
// (-ldflags "-X main.version=v1.2.3 -X main.commit=... -X main.date=...",
// .goreleaser.yaml): the tag the binary was built from, which the build
// info does not know for a build of a checkout. Unset, the build info
// stands in for them (go install module@version records the version).
var version, commit, date string

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
	b := view.NewBuildInfo(info, view.Stamp{Version: version, Commit: commit, Date: date})
	if a.JSON {
		return exitOK, view.WriteVersionJSON(e.stdout, b)
	}
	return exitOK, view.WriteVersion(e.stdout, b)
}

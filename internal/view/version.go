package view

import (
	"encoding/json"
	"io"
	"runtime/debug"
	"strings"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/lock"
)

// develVersion is the main module's version in the build info of a build
// from a working tree that the go command could not version.
const develVersion = "(devel)"

// Stamp is what a release build sets at link time with -ldflags -X: the
// tag, the commit and the commit's date. Each is "" when not set, and
// the build info stands in for it.
type Stamp struct {
	Version string
	Commit  string
	Date    string
}

// BuildInfo is what `imagesync version` tells: which imagesync this is and
// which file formats it reads and writes.
type BuildInfo struct {
	Version    string `json:"version"`          // "v1.2.3", or "devel"
	Commit     string `json:"commit,omitempty"` // the full VCS revision
	Date       string `json:"date,omitempty"`   // the commit's date, RFC 3339, when stamped
	Modified   bool   `json:"modified,omitempty"`
	GoVersion  string `json:"go_version"`
	LockFormat string `json:"lock_format_version"` // images.lock's
	PlanFormat string `json:"plan_format_version"` // a saved plan's (plan --json, --out)
}

// NewBuildInfo reads what a binary knows of itself: the link-time stamp,
// else the main module's version and the VCS settings the go command
// recorded. info may be nil (a binary built without module support).
func NewBuildInfo(info *debug.BuildInfo, s Stamp) BuildInfo {
	b := BuildInfo{Version: s.Version, Commit: s.Commit, Date: s.Date,
		LockFormat: lock.FormatVersion, PlanFormat: diff.FormatVersion}
	if info != nil {
		b.GoVersion = info.GoVersion
		if b.Version == "" {
			b.Version = info.Main.Version
		}
		for _, kv := range info.Settings {
			switch {
			case kv.Key == "vcs.revision" && b.Commit == "":
				b.Commit = kv.Value
			case kv.Key == "vcs.time" && b.Date == "":
				b.Date = kv.Value
			case kv.Key == "vcs.modified":
				b.Modified = kv.Value == "true"
			}
		}
	}
	if b.Version == "" || b.Version == develVersion {
		b.Version = "devel"
	}
	return b
}

// String is the line `imagesync version` prints: the version and the
// revision it was built from, e.g. "imagesync v1.2.3 (rev 0123456789ab,
// modified)".
func (b BuildInfo) String() string {
	var details []string
	if b.Commit != "" {
		details = append(details, "rev "+b.Commit[:min(len(b.Commit), 12)])
	}
	if b.Modified {
		details = append(details, "modified")
	}
	if len(details) == 0 {
		return "imagesync " + b.Version
	}
	return "imagesync " + b.Version + " (" + strings.Join(details, ", ") + ")"
}

// Version is BuildInfo's line for a binary whose stamp sets at most the
// version (override).
func Version(info *debug.BuildInfo, override string) string {
	return NewBuildInfo(info, Stamp{Version: override}).String()
}

// WriteVersion writes `imagesync version`'s line.
func WriteVersion(w io.Writer, b BuildInfo) error {
	_, err := io.WriteString(w, b.String()+"\n")
	return err
}

// WriteVersionJSON writes `imagesync version --json`: one JSON document.
func WriteVersionJSON(w io.Writer, b BuildInfo) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(b)
}

package view

import (
	"runtime/debug"
	"strings"
)

// develVersion is the main module's version in the build info of a build
// from a working tree that the go command could not version.
const develVersion = "(devel)"

// Version is the line `imagesync version` prints: the version (override
// when set at link time, else the main module's version from the build
// info) and the VCS revision the binary was built from, e.g.
// "imagesync v1.2.3 (rev 0123456789ab, modified)". info may be nil (a
// binary built without module support).
func Version(info *debug.BuildInfo, override string) string {
	v := override
	if v == "" && info != nil {
		v = info.Main.Version
	}
	if v == "" || v == develVersion {
		v = "devel"
	}
	var details []string
	if info != nil {
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			details = append(details, "rev "+rev[:min(len(rev), 12)])
		}
		if settings["vcs.modified"] == "true" {
			details = append(details, "modified")
		}
	}
	if len(details) == 0 {
		return "imagesync " + v
	}
	return "imagesync " + v + " (" + strings.Join(details, ", ") + ")"
}

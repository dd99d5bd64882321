package view

import (
	"runtime/debug"
	"testing"
)

func TestVersion(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "f1baaa268b5780e6d5e10404fd6f116c5d08746c"
	for _, tt := range []struct {
		name     string
		info     *debug.BuildInfo
		override string
		want     string
	}{
		{"go install module@version", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "",
			"imagesync v1.2.3"},
		{"release build from a clean tag", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: settings("vcs", "git", "vcs.revision", rev, "vcs.modified", "false")}, "",
			"imagesync v1.2.3 (rev f1baaa268b57)"},
		{"checkout with local changes", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261130072929-f1baaa268b57+dirty"}, Settings: settings("vcs.revision", rev, "vcs.modified", "true")}, "",
			"imagesync v0.0.0-20261130072929-f1baaa268b57+dirty (rev f1baaa268b57, modified)"},
		{"working tree the go command could not version", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "",
			"imagesync devel"},
		{"short revision (another VCS)", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs", "hg", "vcs.revision", "abc123")}, "",
			"imagesync devel (rev abc123)"},
		{"version set with -ldflags -X", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs.revision", rev)}, "v2.0.0",
			"imagesync v2.0.0 (rev f1baaa268b57)"},
		{"no build info", nil, "", "imagesync devel"},
		{"no build info, -ldflags -X", nil, "v2.0.0", "imagesync v2.0.0"},
	} {
		if got := Version(tt.info, tt.override); got != tt.want {
			t.Errorf("%s: Version = %q, want %q", tt.name, got, tt.want)
		}
	}
}

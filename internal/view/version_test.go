package view

import (
	"runtime/debug"
	"strings"
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

// TestBuildInfo checks the stamp set with -ldflags -X against the build
// info it stands in for, and version --json's document.
func TestBuildInfo(t *testing.T) {
	const rev = "f1baaa268b5780e6d5e10404fd6f116c5d08746c"
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-11-30T07:29:29Z"}, {Key: "vcs.modified", Value: "false"}}}
	for _, tt := range []struct {
		name  string
		info  *debug.BuildInfo
		stamp Stamp
		want  BuildInfo
		line  string
	}{
		{"release build", info, Stamp{Version: "v1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-12-01T10:00:00Z"},
			BuildInfo{Version: "v1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-12-01T10:00:00Z", GoVersion: "go1.26.8", LockFormat: "1", PlanFormat: "1"},
			"imagesync v1.2.3 (rev 0123456789ab)"},
		{"checkout", info, Stamp{},
			BuildInfo{Version: "devel", Commit: rev, Date: "2026-11-30T07:29:29Z", GoVersion: "go1.26.8", LockFormat: "1", PlanFormat: "1"},
			"imagesync devel (rev f1baaa268b57)"},
		{"no build info", nil, Stamp{Version: "v2.0.0"},
			BuildInfo{Version: "v2.0.0", LockFormat: "1", PlanFormat: "1"}, "imagesync v2.0.0"},
	} {
		got := NewBuildInfo(tt.info, tt.stamp)
		if got != tt.want || got.String() != tt.line {
			t.Errorf("%s: %+v %q, want %+v %q", tt.name, got, got.String(), tt.want, tt.line)
		}
	}
	var buf strings.Builder
	if err := WriteVersionJSON(&buf, NewBuildInfo(info, Stamp{Version: "v1.2.3"})); err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": "v1.2.3",
  "commit": "f1baaa268b5780e6d5e10404fd6f116c5d08746c",
  "date": "2026-11-30T07:29:29Z",
  "go_version": "go1.26.8",
  "lock_format_version": "1",
  "plan_format_version": "1"
}
`
	if buf.String() != want {
		t.Errorf("version --json:\n%s\nwant:\n%s", buf.String(), want)
	}
}

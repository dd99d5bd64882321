package e2e

import (
	"debug/buildinfo"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/view"
)

// TestVersion checks that `imagesync version` reports the build info of
// the binary itself (module version, VCS revision when the go command
// recorded one), not a fixed string.
func TestVersion(t *testing.T) {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	want := view.Version(info, "") + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := imagesync(t, t.TempDir(), args...)
		if r.code != 0 || r.stdout != want || r.stderr != "" {
			t.Errorf("imagesync %s: %v\nwant stdout %q", strings.Join(args, " "), r, want)
		}
	}
}

package e2e

// The release of issue 22: goreleaser (pinned in tools/go.mod) checks
// .goreleaser.yaml and makes a snapshot release of the working tree in a
// temporary clone tagged v9.9.9. Cross-compiling six 85 MB binaries takes
// minutes on two cores (56 min cold under load, when the build cache is
// empty), so these tests run only with CI=true or IMAGESYNC_RELEASE_TESTS=1,
// and never with -short.

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const (
	goreleaserVersion = "v2.17.0" // tools/go.mod's
	syftVersion       = "v1.57.2"
	releaseTag        = "v9.9.9"
	snapshotVersion   = "9.9.10-snapshot" // .goreleaser.yaml's snapshot.version_template after releaseTag
)

// releaseOnce makes the snapshot release once for the package's tests.
var releaseOnce struct {
	sync.Once
	dist, clone string
	err         string
}

// toolsDir is where pinned tools are installed, as .ci/run installs them.
func toolsDir(t *testing.T) string {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "imagesync-tools")
}

// installTool builds a pinned tool into the tools cache once: goreleaser
// from tools/go.mod, syft with go install. Without it the test is skipped,
// except with CI=true.
func installTool(t *testing.T, name, version string, build func(bin string) *exec.Cmd) string {
	t.Helper()
	bin := filepath.Join(toolsDir(t), name+"-"+version, name)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := build(bin)
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := "cannot install " + name + " " + version + ": " + err.Error() + "\n" + string(out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

func goreleaser(t *testing.T) string {
	return installTool(t, "goreleaser", goreleaserVersion, func(bin string) *exec.Cmd {
		return exec.Command("go", "build", "-C", filepath.Join("..", "tools"), "-o", bin, "github.com/goreleaser/goreleaser/v2")
	})
}

func syft(t *testing.T) string {
	return installTool(t, "syft", syftVersion, func(bin string) *exec.Cmd {
		cmd := exec.Command("go", "install", "github.com/anchore/syft/cmd/syft@"+syftVersion)
		cmd.Dir = t.TempDir()
		cmd.Env = append(cmd.Env, "GOBIN="+filepath.Dir(bin))
		return cmd
	})
}

// releaseClone copies the working tree (tracked and untracked files, less
// the ignored) into a new git repository with one commit tagged
// releaseTag, as a release checkout is.
func releaseClone(t *testing.T, dir string) {
	t.Helper()
	out, err := exec.Command("git", "-C", "..", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join("..", name)
		info, err := os.Lstat(src)
		if err != nil {
			continue // deleted in the working tree
		}
		data, err := os.ReadFile(src)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"},
		{"-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "release test"},
		{"tag", releaseTag}, {"remote", "add", "origin", "https://github.com/imagesync/imagesync.git"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// requireReleaseTests skips a release test unless it was asked for.
func requireReleaseTests(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the release cross-compiles six binaries: skipped with -short")
	}
	// A plain go test ./... on a developer's machine would spend most of
	// an hour here the first time: CI (CI=true) runs these tests, and so
	// does anyone who asks with IMAGESYNC_RELEASE_TESTS=1.
	if os.Getenv("CI") != "true" && os.Getenv("IMAGESYNC_RELEASE_TESTS") != "1" {
		t.Skip("the release tests run with CI=true or IMAGESYNC_RELEASE_TESTS=1 (minutes once the build cache is warm, most of an hour before)")
	}
}

// snapshotRelease runs goreleaser check and goreleaser release --snapshot
// --clean --skip=publish,sign in a clone of the working tree tagged
// releaseTag, once, and returns the clone's dist directory.
func snapshotRelease(t *testing.T) (dist, clone string) {
	t.Helper()
	requireReleaseTests(t)
	gr, sy := goreleaser(t), syft(t)
	releaseOnce.Do(func() {
		dir, err := os.MkdirTemp("", "imagesync-release-")
		if err != nil {
			releaseOnce.err = err.Error()
			return
		}
		releaseClone(t, dir)
		env := append(os.Environ(), "PATH="+filepath.Dir(sy)+string(os.PathListSeparator)+os.Getenv("PATH"), "GOFLAGS=")
		for _, args := range [][]string{{"check"}, {"release", "--snapshot", "--clean", "--skip=publish,sign"}} {
			cmd := exec.Command(gr, args...)
			cmd.Dir, cmd.Env = dir, env
			if out, err := cmd.CombinedOutput(); err != nil {
				releaseOnce.err = "goreleaser " + strings.Join(args, " ") + ": " + err.Error() + "\n" + string(out)
				return
			}
		}
		releaseOnce.dist, releaseOnce.clone = filepath.Join(dir, "dist"), dir
	})
	if releaseOnce.err != "" {
		t.Fatal(releaseOnce.err)
	}
	return releaseOnce.dist, releaseOnce.clone
}

// releaseTargets are the six archives of a release, by os_arch.
var releaseTargets = []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64", "windows_arm64"}

// TestRelease checks the snapshot release: goreleaser check passed, six
// archives each listed in checksums.txt with its sha256 and each with an
// SPDX SBOM, the completions and man pages in the archives, and the
// binary saying the version it was stamped with, not Go's.
func TestRelease(t *testing.T) {
	dist, _ := snapshotRelease(t)
	sums := readFile(t, filepath.Join(dist, "checksums.txt"))
	for _, target := range releaseTargets {
		ext := ".tar.gz"
		if strings.HasPrefix(target, "windows") {
			ext = ".zip"
		}
		name := "imagesync_" + snapshotVersion + "_" + target + ext
		if _, err := os.Stat(filepath.Join(dist, name)); err != nil {
			t.Errorf("no archive %s: %v", name, err)
			continue
		}
		if want := sha256File(t, filepath.Join(dist, name)) + "  " + name + "\n"; !strings.Contains(sums, want) {
			t.Errorf("checksums.txt lacks %q:\n%s", want, sums)
		}
		sbom := readFile(t, filepath.Join(dist, name+".sbom.json"))
		if !strings.Contains(sbom, `"spdxVersion"`) {
			t.Errorf("%s.sbom.json is not an SPDX document", name)
		}
	}
	files := tarFiles(t, filepath.Join(dist, "imagesync_"+snapshotVersion+"_linux_amd64.tar.gz"))
	for _, want := range []string{"imagesync", "README.md", "completions/imagesync.bash", "completions/_imagesync", "completions/imagesync.fish",
		"completions/imagesync.ps1", "manpages/imagesync.1.gz", "manpages/imagesync-plan.1.gz", "manpages/imagesync-render-compose.1.gz"} {
		if _, ok := files[want]; !ok {
			t.Errorf("the linux archive lacks %s", want)
		}
	}
	bin := filepath.Join(t.TempDir(), "imagesync")
	if err := os.WriteFile(bin, files["imagesync"], 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "imagesync v"+snapshotVersion+" (rev ") {
		t.Errorf("the archive's imagesync version: %q, %v", out, err)
	}
}

// TestReleaseVersionIsTheTag builds the binary as a release of the tag
// does (goreleaser build, no snapshot) in the clone tagged v9.9.9 and
// checks that imagesync version says the tag.
func TestReleaseVersionIsTheTag(t *testing.T) {
	_, clone := snapshotRelease(t)
	cmd := exec.Command(goreleaser(t), "build", "--single-target", "--clean", "--id", "imagesync", "--output", filepath.Join(clone, "tagged-imagesync"))
	cmd.Dir = clone
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtimeArch(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goreleaser build: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(clone, "tagged-imagesync"), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "imagesync "+releaseTag+" (rev ") {
		t.Errorf("imagesync version of the %s build: %q, %v", releaseTag, out, err)
	}
}

// tarFiles reads a .tar.gz into memory, by name.
func tarFiles(t *testing.T, name string) map[string][]byte {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = data
	}
}

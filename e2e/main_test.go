// Package e2e runs the imagesync binary against real docker-registry
// processes, as users and CI run it. Every test starts its own registries on
// free loopback ports and stops them afterwards.
package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/demo"
)

// binary is the imagesync built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "imagesync-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "imagesync")
	build := exec.Command("go", "build", "-o", binary, "../cmd/imagesync")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build imagesync:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if releaseOnce.clone != "" {
		os.RemoveAll(releaseOnce.clone) // the snapshot release's clone
	}
	os.Exit(code)
}

// result is what one imagesync run printed and how it exited.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// imagesync runs the binary in dir with an empty docker config, so that no
// credentials of the machine leak into the test.
func imagesync(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run imagesync %v: %v", args, err)
	}
	return r
}

// copyExample copies examples/ai-infra-matrix to a temporary directory.
func copyExample(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "examples", "ai-infra-matrix")
	dst := filepath.Join(t.TempDir(), "ai-infra-matrix")
	err := demo.CopyTree(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// writeFile writes a test file, creating its directory.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readFile reads a file the test expects to exist.
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// replaceInFile replaces every old in a file and fails the test if there is none.
func replaceInFile(t *testing.T, path, old, new string) {
	t.Helper()
	s := readFile(t, path)
	if !strings.Contains(s, old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	writeFile(t, path, strings.ReplaceAll(s, old, new))
}

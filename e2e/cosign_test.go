package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// cosignVersion is the signer the supply-chain tests sign and verify with,
// installed once per machine (and by .ci/run) into the user's cache.
const cosignVersion = "v3.1.3"

var (
	cosignOnce sync.Once
	cosignPath string
	cosignErr  error
)

// cosignDir is where cosign is installed: <user cache>/imagesync-tools/
// cosign-<version>, the directory .ci/run installs it into too.
func cosignDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "imagesync-tools", "cosign-"+cosignVersion), nil
}

// cosignBinary returns the cosign binary, installing it with `go install`
// on first use (it takes minutes: cosign is large). Without it, and
// without a way to install it (no network), the test is skipped, except
// under CI=true, where that fails it: CI installs cosign first.
func cosignBinary(t *testing.T) string {
	t.Helper()
	cosignOnce.Do(func() { cosignPath, cosignErr = installCosign() })
	if cosignErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must install cosign %s (.ci/run does): %v", cosignVersion, cosignErr)
		}
		t.Skipf("skipping: this test needs cosign %s and could not install it (go install needs the Go module proxy): %v", cosignVersion, cosignErr)
	}
	return cosignPath
}

func installCosign() (string, error) {
	dir, err := cosignDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "cosign")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	// Installed into a directory of its own, then renamed into place, so
	// that an interrupted install never leaves a broken binary behind.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "cosign-install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "install", "github.com/sigstore/cosign/v3/cmd/cosign@"+cosignVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install cosign@%s: %v\n%s", cosignVersion, err, lastLines(string(out), 5))
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(bin); statErr == nil {
			return bin, nil // another test run installed it meanwhile
		}
		return "", err
	}
	return bin, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// signer signs and verifies images on loopback registries with a key pair
// of its own, offline: no transparency log, no signing config fetched.
type signer struct {
	bin, dir string
}

func newSigner(t *testing.T) *signer {
	t.Helper()
	s := &signer{bin: cosignBinary(t), dir: t.TempDir()}
	s.run(t, "generate-key-pair")
	return s
}

// loopback are the flags cosign needs for plain-HTTP registries.
var loopback = []string{"--allow-insecure-registry", "--allow-http-registry"}

// offline are the flags that keep cosign v3 from the network when signing.
var offline = []string{"--use-signing-config=false", "--tlog-upload=false", "-y"}

// run runs cosign in the signer's directory (where the key pair is) and
// fails the test unless it succeeds.
func (s *signer) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.try(args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *signer) try(args ...string) (string, error) {
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	// An empty password for the key, no credentials of the machine, and
	// sigstore's caches in the test's directory.
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "DOCKER_CONFIG="+s.dir, "TUF_ROOT="+filepath.Join(s.dir, "tuf"),
		"HOME="+s.dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// sign signs ref (repository@digest); classic writes cosign's .sig tag
// instead of a sigstore bundle stored as a referrer.
func (s *signer) sign(t *testing.T, ref string, classic bool) {
	t.Helper()
	args := append([]string{"sign", "--key", "cosign.key"}, offline...)
	if classic {
		args = append(args, "--new-bundle-format=false")
	}
	s.run(t, append(append(args, loopback...), ref)...)
}

// attestSBOM attests an SPDX SBOM for ref.
func (s *signer) attestSBOM(t *testing.T, ref string, classic bool) {
	t.Helper()
	sbom := `{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"stand-in",` +
		`"documentNamespace":"https://example.com/stand-in","creationInfo":{"created":"2024-01-01T00:00:00Z","creators":["Tool: e2e"]},"packages":[]}`
	writeFile(t, filepath.Join(s.dir, "sbom.json"), sbom)
	args := append([]string{"attest", "--key", "cosign.key", "--type", "spdxjson", "--predicate", "sbom.json"}, offline...)
	if classic {
		args = append(args, "--new-bundle-format=false")
	}
	s.run(t, append(append(args, loopback...), ref)...)
}

// verify checks ref's signature with the signer's public key.
func (s *signer) verify(ref string) (string, error) {
	return s.try(append(append([]string{"verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true"}, loopback...), ref)...)
}

// verifyAttestation checks ref's SPDX attestation with the public key.
func (s *signer) verifyAttestation(ref string) (string, error) {
	return s.try(append(append([]string{"verify-attestation", "--key", "cosign.pub", "--insecure-ignore-tlog=true", "--type", "spdxjson"},
		loopback...), ref)...)
}

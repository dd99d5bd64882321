package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiffCommand runs `imagesync diff` on the repository's images.lock
// and a copy with one digest moved and one image dropped, in every
// format, and on files that are missing or broken.
func TestDiffCommand(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "images.lock"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	oldLock, newLock := filepath.Join(dir, "base.lock"), filepath.Join(dir, "images.lock")
	text := string(src)
	first := strings.Index(text, "\nimage ")
	second := first + 1 + strings.Index(text[first+1:], "\nimage ")
	dropped := strings.Fields(text[first+1 : first+1+strings.Index(text[first+1:], "\n")])[1]
	digestAt := second + strings.Index(text[second:], `digest     = "sha256:`) + len(`digest     = "sha256:`)
	moved := text[:digestAt] + "0000000000000000" + text[digestAt+16:]
	next := moved[:first+1] + moved[second+1:] // the first image dropped
	if err := os.WriteFile(oldLock, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newLock, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runLine(t, "diff", oldLock, newLock)
	if code != exitOK || stderr != "" || !strings.Contains(stdout, "- image "+strings.Trim(dropped, `"`)) ||
		!strings.Contains(stdout, "-> sha256:000000000000") || !strings.Contains(stdout, "Lock diff: 1 image removed, 1 image moved to another digest;") {
		t.Errorf("diff: exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
	}
	code, stdout, _ = runLine(t, "diff", "--json", oldLock, newLock)
	var doc struct{ Changes []struct{ Change string } }
	if err := json.Unmarshal([]byte(stdout), &doc); code != exitOK || err != nil || len(doc.Changes) != 2 {
		t.Errorf("diff --json: exit %d, %v:\n%s", code, err, stdout)
	}
	code, stdout, _ = runLine(t, "diff", "--format", "markdown", oldLock, oldLock)
	if code != exitOK || !strings.Contains(stdout, "## imagesync diff") || !strings.Contains(stdout, "No changes") {
		t.Errorf("diff --format markdown of equal locks: exit %d:\n%s", code, stdout)
	}

	broken := filepath.Join(dir, "broken.lock")
	if err := os.WriteFile(broken, []byte("image \"x\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runLine(t, "diff", broken, filepath.Join(dir, "nope.lock"))
	if code != exitError || stdout != "" || !strings.Contains(stderr, "broken.lock:1:7: Invalid reference in lockfile") || !strings.Contains(stderr, "nope.lock does not exist") {
		t.Errorf("diff of broken and missing locks: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	if code, _, stderr = runLine(t, "diff", oldLock); code != exitError || !strings.Contains(stderr, "diff: want two lockfiles, OLD and NEW, got 1") {
		t.Errorf("diff with one file: exit %d, %s", code, stderr)
	}
}

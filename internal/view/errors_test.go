package view

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/workspace"
)

func TestWriteError(t *testing.T) {
	var buf bytes.Buffer
	WriteError(&buf, errors.New("2 images could not be resolved:\n  docker.io/library/redis:9"))
	want := "imagesync: 2 images could not be resolved:\n  docker.io/library/redis:9\n"
	if buf.String() != want {
		t.Errorf("WriteError wrote %q, want %q", buf.String(), want)
	}
}

// TestErrorsStartAlike checks that every error the views write starts with
// ErrorPrefix, as the command's own errors do.
func TestErrorsStartAlike(t *testing.T) {
	var stale bytes.Buffer
	WriteStaleLock(&stale, &workspace.StaleLockError{LockName: "images.lock", Changes: []lock.Change{
		{Kind: lock.Added, Ref: imageref.MustParse("redis:7")},
		{Kind: lock.Removed, Ref: imageref.MustParse("redis:6")},
		{Kind: lock.Moved, Ref: imageref.MustParse("web:v1"), Build: true, Detail: "inputs sha256:0c2d -> sha256:77ab"},
	}}, "imagesync lock")
	WriteStaleLock(&stale, &workspace.StaleLockError{LockName: "images.lock", Missing: true}, "imagesync -C 'my repo' lock")
	golden(t, "stale-lock.txt", stale.Bytes())
	files, sample := sampleDiagnostics(t)
	var diags bytes.Buffer
	if err := WriteDiagnostics(&diags, files, sample); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"stale lock": stale.String(), "diagnostics": diags.String()} {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, ErrorPrefix) && !strings.HasPrefix(line, "run \"imagesync ") {
				t.Errorf("%s: line %q starts neither with %q nor with indentation", name, line, ErrorPrefix)
			}
		}
	}
}

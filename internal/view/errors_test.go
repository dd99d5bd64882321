package view

import (
	"bytes"
	"errors"
	"strings"
	"testing"
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
	WriteStaleLock(&stale, "images.lock", nil)
	files, sample := sampleDiagnostics(t)
	var diags bytes.Buffer
	if err := WriteDiagnostics(&diags, files, sample); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"stale lock": stale.String(), "diagnostics": diags.String()} {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, ErrorPrefix) {
				t.Errorf("%s: line %q starts neither with %q nor with indentation", name, line, ErrorPrefix)
			}
		}
	}
}

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/imagesync/imagesync/internal/view"
)

// github is what a GitHub Actions job offers a command, read from its
// environment: annotations on the pull request's diff (GITHUB_ACTIONS=true)
// and the job's step summary (GITHUB_STEP_SUMMARY), with paths relative
// to the repository (GITHUB_WORKSPACE) so that they land on the diff
// whatever -C says.
type github struct {
	annotations bool
	summaryFile string
	workspace   string
	stderr      io.Writer
}

// github reads the job's environment.
func (e *env) github() github {
	return github{annotations: e.getenv("GITHUB_ACTIONS") == "true", summaryFile: e.getenv("GITHUB_STEP_SUMMARY"),
		workspace: e.getenv("GITHUB_WORKSPACE"), stderr: e.stderr}
}

// path is a file's path as an annotation names it: relative to the
// workspace when the file lies in it, else as given.
func (g github) path(name string) string {
	abs, err := filepath.Abs(name)
	if err != nil || g.workspace == "" {
		return filepath.ToSlash(name)
	}
	ws, err := filepath.Abs(g.workspace)
	if err != nil {
		return filepath.ToSlash(name)
	}
	rel, err := filepath.Rel(ws, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(rel)
}

// annotate writes annotations to stderr, which the runner reads like
// stdout, so that stdout keeps only the command's result (a JSON document
// stays JSON); nothing outside GitHub Actions.
func (g github) annotate(as []view.Annotation) {
	if g.annotations && len(as) > 0 {
		_ = view.WriteAnnotations(g.stderr, as)
	}
}

// appendSummary appends what render writes to the step summary, in one
// write, when the job has one. A summary that cannot be written is a
// warning: the command's own result stands.
func (g github) appendSummary(render func(io.Writer) error) {
	if g.summaryFile == "" {
		return
	}
	var buf bytes.Buffer
	err := render(&buf)
	if err == nil {
		buf.WriteString("\n")
		err = appendFile(g.summaryFile, buf.Bytes())
	}
	if err != nil {
		fmt.Fprintf(g.stderr, "%swarning: GITHUB_STEP_SUMMARY: %v\n", view.ErrorPrefix, err)
	}
}

// appendFile appends data to a file in one write. The step summary is the
// one file imagesync appends to rather than replaces (atomicfile): the
// runner and the job's other steps own it, and it must keep what they
// wrote.
func appendFile(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

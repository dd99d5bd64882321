package build

import (
	"bytes"
	"io"
	"sync"
)

// lineWriter passes a builder's output on line by line, each line
// prefixed "<service> | ", and keeps the last tailLines lines for errors.
// Builders write stdout and stderr to the same lineWriter, possibly from
// two goroutines.
type lineWriter struct {
	mu     sync.Mutex
	out    io.Writer
	prefix string
	buf    []byte   // an incomplete last line
	tail   []string // the last lines, oldest first
}

func newLineWriter(out io.Writer, service string) *lineWriter {
	if out == nil {
		out = io.Discard
	}
	return &lineWriter{out: out, prefix: service + " | "}
}

// Write implements io.Writer. It never fails: a failing destination must
// not fail the build.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) == 0 {
		w.buf = nil // let a large consumed buffer go
	}
	return len(p), nil
}

// flush emits an incomplete last line.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}

// emit writes one line; w.mu is held.
func (w *lineWriter) emit(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if i := bytes.LastIndexByte(line, '\r'); i >= 0 {
		line = line[i+1:] // a progress line redrawn in place: its last state
	}
	s := string(line)
	if len(w.tail) == tailLines {
		w.tail = append(w.tail[:0], w.tail[1:]...)
	}
	w.tail = append(w.tail, s)
	_, _ = io.WriteString(w.out, w.prefix+s+"\n")
}

// lines returns the kept last lines.
func (w *lineWriter) lines() []string {
	w.flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.tail...)
}

// reset forgets the kept lines, so that a buildError shows only the output of
// the command that failed.
func (w *lineWriter) reset() {
	w.flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tail = nil
}

// Package liblog captures what the libraries discovery calls print on
// their own — compose-go through logrus, Helm and kustomize through the
// standard log package, kustomize and klog straight to os.Stderr — so that
// imagesync shows each message once, with its prefix and the source it
// concerns, instead of raw lines on stderr.
//
// Those libraries take no logger: their output goes through process-wide
// state (log's default logger, logrus's standard logger, os.Stderr). A
// Capture swaps that state for the duration of a discovery run and
// restores it afterwards. Two captures never overlap: a package-level
// mutex, the only package-level state here, guards the libraries' own.
//
// A line written through log or logrus is attributed to the source its
// goroutine is working on (Do): both write from the goroutine that calls
// them, and the libraries spawn none while rendering, so the goroutine's
// id (the runtime's, from the first line of its stack trace: Go exposes no
// other) tells which of the sources rendered at once printed it. A line
// written straight to os.Stderr reaches a pipe, which no goroutine
// identifies: it comes back without source.
package liblog

import (
	"bufio"
	"io"
	"log"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
)

// active is held by the one Capture under way.
var active sync.Mutex

// Message is one distinct line a library printed.
type Message struct {
	// Source is what the goroutine that printed it was working on (the
	// label given to Do); "" when no Do was under way on that goroutine,
	// or for a line written straight to os.Stderr.
	Source string
	Text   string
}

// Capture holds the libraries' output while it is swapped.
type Capture struct {
	mu       sync.Mutex
	sources  map[uint64]string // goroutine id -> source
	messages map[Message]bool

	restore []func()
	pipe    *os.File      // the write end os.Stderr points at, nil when no pipe could be made
	read    chan struct{} // closed when the pipe's reader is done
}

// Start swaps the libraries' output for a new Capture, waiting for the one
// under way, if any, to stop. Stop must follow.
func Start() *Capture {
	active.Lock()
	c := &Capture{sources: map[uint64]string{}, messages: map[Message]bool{}}

	logOut, logFlags, logPrefix := log.Writer(), log.Flags(), log.Prefix()
	log.SetOutput(writer{c})
	log.SetFlags(0)
	log.SetPrefix("")
	c.restore = append(c.restore, func() {
		log.SetOutput(logOut)
		log.SetFlags(logFlags)
		log.SetPrefix(logPrefix)
	})

	std := logrus.StandardLogger()
	rusOut, rusFormatter := std.Out, std.Formatter
	std.SetOutput(writer{c})
	std.SetFormatter(messageOnly{})
	c.restore = append(c.restore, func() {
		std.SetOutput(rusOut)
		std.SetFormatter(rusFormatter)
	})

	if r, w, err := os.Pipe(); err == nil {
		stderr := os.Stderr
		os.Stderr, c.pipe, c.read = w, w, make(chan struct{})
		go c.readPipe(r)
		c.restore = append(c.restore, func() { os.Stderr = stderr })
	}
	return c
}

// Stop gives the libraries their output back and returns what they
// printed, each distinct message once, sorted by source and text.
func (c *Capture) Stop() []Message {
	for i := len(c.restore) - 1; i >= 0; i-- {
		c.restore[i]()
	}
	if c.pipe != nil {
		c.pipe.Close()
		<-c.read
	}
	active.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Message, 0, len(c.messages))
	for m := range c.messages {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Message) int {
		if a.Source != b.Source {
			return strings.Compare(a.Source, b.Source)
		}
		return strings.Compare(a.Text, b.Text)
	})
	return out
}

// Do runs fn with what the calling goroutine prints attributed to source.
func (c *Capture) Do(source string, fn func()) {
	id := goroutineID()
	c.mu.Lock()
	prev, had := c.sources[id]
	c.sources[id] = source
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if had {
			c.sources[id] = prev
		} else {
			delete(c.sources, id)
		}
		c.mu.Unlock()
	}()
	fn()
}

// add records the lines of text as printed for source.
func (c *Capture) add(source, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			c.messages[Message{Source: source, Text: line}] = true
		}
	}
}

// readPipe records what is written to os.Stderr, until the pipe closes.
func (c *Capture) readPipe(r *os.File) {
	defer close(c.read)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		c.add("", sc.Text())
	}
	_, _ = io.Copy(io.Discard, r) // a line too long: drain, so that no writer blocks
}

// writer is the output given to log and logrus: it attributes what it is
// given to the source of the goroutine that writes.
type writer struct{ c *Capture }

func (w writer) Write(p []byte) (int, error) {
	id := goroutineID()
	w.c.mu.Lock()
	source := w.c.sources[id]
	w.c.mu.Unlock()
	w.c.add(source, string(p))
	return len(p), nil
}

// messageOnly formats a logrus entry as its message alone: the level,
// time and fields are logrus's presentation, not what the library says.
type messageOnly struct{}

func (messageOnly) Format(e *logrus.Entry) ([]byte, error) { return []byte(e.Message + "\n"), nil }

// goroutineID returns the runtime's id of the calling goroutine, the number
// in the first line of its stack trace ("goroutine 18 [running]:").
func goroutineID() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	field, _, _ := strings.Cut(strings.TrimPrefix(string(buf[:n]), "goroutine "), " ")
	id, _ := strconv.ParseUint(field, 10, 64)
	return id
}

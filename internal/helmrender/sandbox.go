package helmrender

// A chart's templates are programs of the repository: `{{ repeat }}` and
// `{{ until }}` with large counts allocate gigabytes, a loop runs for
// ever, and Helm's engine takes no context and has no limit of its own.
// The only sure bound is a process: the command re-executes itself with a
// hidden subcommand (ChildCommand) that renders one release under
// rlimits (data segment, CPU time) and an empty environment, and the
// parent kills it at a deadline. The parent reads every file first, under
// the repository's rule; the child receives bytes, never a path.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/imagesync/imagesync/internal/excerpt"
)

// ChildCommand is the hidden subcommand a Sandbox's Command runs: the
// program's main hands it to ServeChild.
const ChildCommand = "__render-helm"

// DefaultMemoryLimit is the data segment (RLIMIT_DATA) a child may use
// when Sandbox.Memory is 0: several times what the largest charts need
// to render, a fraction of a CI runner's memory.
const DefaultMemoryLimit = 1 << 30

// DefaultTimeout is how long one release may render when
// Sandbox.Timeout is 0; its CPU time is limited to the same.
const DefaultTimeout = 2 * time.Minute

// maxRendered bounds what the parent reads back from a child (the
// rendered manifests, as JSON).
const maxRendered = 256 << 20

// maxJob bounds what a child reads from its parent: Helm's own limit on a
// chart's size, in base64, with room for values.
const maxJob = 200 << 20

// Sandbox runs the rendering of a release in a child process with bounds.
type Sandbox struct {
	// Command starts a child that serves ChildCommand: the program and
	// its arguments, ChildCommand included (e.g. {"/usr/bin/imagesync",
	// ChildCommand}). Empty renders in this process, unbounded.
	Command []string
	// Memory is the child's data segment limit in bytes; 0 means
	// DefaultMemoryLimit.
	Memory int64
	// Timeout is the longest one release may render; 0 means
	// DefaultTimeout.
	Timeout time.Duration
}

// childResult is what a child writes back.
type childResult struct {
	Rendered *Rendered `json:",omitempty"`
	Error    string    `json:",omitempty"`
}

// run renders j in a child process.
func (s Sandbox) run(ctx context.Context, j *job) (*Rendered, error) {
	memory, timeout := s.Memory, s.Timeout
	if memory <= 0 {
		memory = DefaultMemoryLimit
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	input, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := append(s.Command[1:len(s.Command):len(s.Command)],
		strconv.FormatInt(memory, 10), strconv.Itoa(int(timeout.Seconds()+1)))
	cmd := exec.CommandContext(ctx, s.Command[0], args...)
	cmd.Env = []string{} // the job's secrets are no template's business
	cmd.Stdin = bytes.NewReader(input)
	stdout, stderr := &capped{max: maxRendered}, &capped{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	runErr := cmd.Run()
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("rendering took longer than %s, the limit of one release (a template that loops, such as a huge until?)", timeout)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case runErr != nil && outOfMemory(stderr.String()):
		return nil, fmt.Errorf("rendering used more than %d MiB of memory, the limit of one release "+
			"(a template that builds a huge value, such as repeat or until with a large count?)", memory>>20)
	case runErr != nil:
		first, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return nil, fmt.Errorf("rendering failed: %v: %s", runErr, excerpt.Text(first))
	case stdout.over:
		return nil, fmt.Errorf("rendering gave more than %d MiB of manifests", maxRendered>>20)
	}
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("rendering: reading the renderer's answer: %w", err)
	}
	if res.Error != "" {
		return nil, errors.New(res.Error)
	}
	if res.Rendered == nil {
		return nil, errors.New("rendering: the renderer answered nothing")
	}
	return res.Rendered, nil
}

// outOfMemory reports whether a child's stderr says the Go runtime died
// at its memory limit: an allocation refused, or the fault a refused
// mapping can cause in the collector.
func outOfMemory(stderr string) bool {
	return strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "SIGSEGV")
}

// ServeChild is the child side: args are the memory limit in bytes and
// the CPU limit in seconds, stdin the job. It sets the limits before it
// reads anything, renders, and writes the result to stdout. It returns
// the exit code.
func ServeChild(args []string, stdin io.Reader, stdout io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stdout, `{"Error":"render: the renderer wants a memory and a CPU limit"}`)
		return 2
	}
	memory, merr := strconv.ParseInt(args[0], 10, 64)
	cpu, cerr := strconv.ParseInt(args[1], 10, 64)
	if err := errors.Join(merr, cerr); err != nil || memory <= 0 || cpu <= 0 {
		fmt.Fprintln(stdout, `{"Error":"render: bad limits for the renderer"}`)
		return 2
	}
	var res childResult
	if err := limitProcess(memory, cpu); err != nil {
		res.Error = fmt.Sprintf("render: cannot limit the renderer: %v", err)
	} else {
		// Collect harder as the limit nears, rather than die early.
		debug.SetMemoryLimit(memory / 4 * 3)
		var j job
		if err := json.NewDecoder(io.LimitReader(stdin, maxJob)).Decode(&j); err != nil {
			res.Error = fmt.Sprintf("render: reading the job: %v", err)
		} else if r, err := j.run(); err != nil {
			res.Error = err.Error()
		} else {
			res.Rendered = r
		}
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

// capped is a buffer that keeps at most max bytes and notes the excess.
type capped struct {
	bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); len(p) > room {
		c.over = true
		c.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.Buffer.Write(p)
}

package helmrender

// A chart's templates are programs of the repository: `{{ repeat }}` and
// `{{ until }}` with large counts allocate gigabytes, a loop runs for
// ever, and Helm's engine takes no context and has no limit of its own.
// The only sure bound is a process: the command re-executes itself with a
// hidden subcommand (ChildCommand, served by ServeChild) that renders
// releases under rlimits (data segment, CPU time per release) with an
// empty environment, and the parent kills it at a release's deadline. The
// parent reads every file first, under the repository's rule; the child
// receives bytes, never a path. One child serves the releases of a run one
// after the other (starting a process costs more than rendering a chart);
// a release that kills it (a bomb, a deadline) gets its error, and the
// next release a fresh child.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
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

// Sandbox says how a Worker runs the rendering of a release: in a child
// process with bounds.
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

func (s Sandbox) limits() (memory int64, timeout time.Duration) {
	memory, timeout = s.Memory, s.Timeout
	if memory <= 0 {
		memory = DefaultMemoryLimit
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return memory, timeout
}

// Worker renders releases one after the other as its Sandbox says,
// starting its child on first use. Close stops it. A Worker is not safe
// for concurrent use.
type Worker struct {
	sb     Sandbox
	child  *child
	starts int // children started, for tests
}

// NewWorker returns a worker for s; nothing starts until Render.
func NewWorker(s Sandbox) *Worker { return &Worker{sb: s} }

// Render renders r (see the package's Render), in the worker's child.
func (w *Worker) Render(ctx context.Context, r Release) (*Rendered, error) {
	j, err := readJob(r)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(w.sb.Command) == 0 {
		return j.run()
	}
	return w.render(ctx, j)
}

// Close stops the child, if one runs.
func (w *Worker) Close() error {
	if w.child == nil {
		return nil
	}
	c := w.child
	w.child = nil
	c.in.Close() // the child ends at the end of its input
	select {
	case <-c.exited:
		c.out.Close()
	case <-time.After(5 * time.Second):
		c.kill()
	}
	return nil
}

// render sends j to the child and waits for its answer, at most the
// release's timeout.
func (w *Worker) render(ctx context.Context, j *job) (*Rendered, error) {
	memory, timeout := w.sb.limits()
	input, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	if w.child == nil {
		if w.child, err = startChild(w.sb.Command, memory, timeout); err != nil {
			return nil, fmt.Errorf("start the renderer: %w", err)
		}
		w.starts++
	}
	c := w.child
	c.stderr.reset()
	answer := make(chan frame, 1)
	go func() {
		data, err := readFrame(c.out, maxRendered)
		answer <- frame{data, err}
	}()
	if err := writeFrame(c.in, input); err != nil {
		return nil, w.died(c, memory, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-timer.C:
		w.stop()
		return nil, fmt.Errorf("rendering took longer than %s, the limit of one release (a template that loops, such as a huge until?)", timeout)
	case <-ctx.Done():
		w.stop()
		return nil, ctx.Err()
	case a := <-answer:
		if a.err != nil {
			return nil, w.died(c, memory, a.err)
		}
		var res childResult
		if err := json.Unmarshal(a.data, &res); err != nil || (res.Error == "" && res.Rendered == nil) {
			w.stop()
			return nil, fmt.Errorf("rendering: the renderer's answer does not read: %v", err)
		}
		if res.Error != "" {
			return nil, errors.New(res.Error)
		}
		return res.Rendered, nil
	}
}

// died is the error of a release during which the child stopped
// answering: it ran out of memory, or failed otherwise.
func (w *Worker) died(c *child, memory int64, err error) error {
	w.stop()
	stderr := c.stderr.String()
	if outOfMemory(stderr) {
		return fmt.Errorf("rendering used more than %d MiB of memory, the limit of one release "+
			"(a template that builds a huge value, such as repeat or until with a large count?)", memory>>20)
	}
	if errors.Is(err, errTooLarge) {
		return fmt.Errorf("rendering gave more than %d MiB of manifests", maxRendered>>20)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
	return fmt.Errorf("rendering failed: the renderer stopped (%v): %s", c.waitErr, excerpt.Text(first))
}

// stop kills the child and forgets it; the next release starts another.
func (w *Worker) stop() {
	if w.child != nil {
		w.child.kill()
		w.child = nil
	}
}

type frame struct {
	data []byte
	err  error
}

// outOfMemory reports whether a child's stderr says the Go runtime died
// at its memory limit: an allocation refused, or the fault a refused
// mapping can cause in the collector.
func outOfMemory(stderr string) bool {
	return strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "SIGSEGV")
}

// child is a running renderer.
type child struct {
	cmd     *exec.Cmd
	in      *os.File // the child's stdin
	out     *os.File // the child's stdout
	stderr  *capped
	exited  chan struct{} // closed once the child is waited for
	waitErr error
}

// startChild starts command with the limits as arguments, an empty
// environment and pipes of its own (exec's would be closed by Wait while
// an answer is read).
func startChild(command []string, memory int64, timeout time.Duration) (*child, error) {
	args := append(command[1:len(command):len(command)],
		strconv.FormatInt(memory, 10), strconv.Itoa(int(timeout.Seconds()+1)))
	cmd := exec.Command(command[0], args...)
	cmd.Env = []string{} // the job's secrets are no template's business
	cmd.SysProcAttr = childAttr()
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	c := &child{cmd: cmd, in: inW, out: outR, stderr: &capped{max: 64 << 10}, exited: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, c.stderr
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// kill ends the child and waits for it.
func (c *child) kill() {
	c.cmd.Process.Kill()
	<-c.exited
	c.in.Close()
	c.out.Close()
}

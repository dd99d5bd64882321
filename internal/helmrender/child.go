package helmrender

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
)

// maxRendered bounds an answer the parent reads from a child (the
// rendered manifests, as JSON).
const maxRendered = 256 << 20

// maxJob bounds a job a child reads from its parent: Helm's own limit on
// a chart's size, in base64, with room for values.
const maxJob = 200 << 20

// childResult is what a child answers for one job.
type childResult struct {
	Rendered *Rendered `json:",omitempty"`
	Error    string    `json:",omitempty"`
}

// ServeChild is the child side: args are the memory limit in bytes and
// the CPU time one release may use in seconds; stdin brings jobs, stdout
// takes the answers, one frame each, until stdin ends. The memory limit
// is set before anything is read, the CPU limit before each job. It
// returns the exit code.
func ServeChild(args []string, stdin io.Reader, stdout io.Writer) int {
	if len(args) != 2 {
		return 2
	}
	memory, merr := strconv.ParseInt(args[0], 10, 64)
	cpu, cerr := strconv.ParseInt(args[1], 10, 64)
	if errors.Join(merr, cerr) != nil || memory <= 0 || cpu <= 0 {
		return 2
	}
	if err := limitMemory(memory); err != nil {
		return 2
	}
	// Collect harder as the limit nears, rather than die early.
	debug.SetMemoryLimit(memory / 4 * 3)
	for {
		data, err := readFrame(stdin, maxJob)
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			return 2
		}
		var res childResult
		if err := limitCPU(cpu); err != nil {
			res.Error = fmt.Sprintf("render: cannot limit the renderer: %v", err)
		} else {
			res = serveJob(data)
		}
		out, err := json.Marshal(res)
		if err != nil || writeFrame(stdout, out) != nil {
			return 1
		}
		runtime.GC() // what this release held is free for the next
	}
}

// serveJob renders one job as the parent sent it.
func serveJob(data []byte) childResult {
	var j job
	if err := json.Unmarshal(data, &j); err != nil {
		return childResult{Error: fmt.Sprintf("render: reading the job: %v", err)}
	}
	r, err := j.run()
	if err != nil {
		return childResult{Error: err.Error()}
	}
	return childResult{Rendered: r}
}

// errTooLarge is a frame over its bound.
var errTooLarge = errors.New("frame too large")

// writeFrame writes data with its length before it.
func writeFrame(w io.Writer, data []byte) error {
	var head [8]byte
	binary.BigEndian.PutUint64(head[:], uint64(len(data)))
	if _, err := w.Write(head[:]); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// readFrame reads one frame of at most max bytes; io.EOF when the stream
// ended between frames.
func readFrame(r io.Reader, max int64) ([]byte, error) {
	var head [8]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint64(head[:])
	if n > uint64(max) {
		return nil, errTooLarge
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return data, nil
}

// capped keeps the first max bytes written to it (a child's stderr).
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p[:min(len(p), max(c.max-c.buf.Len(), 0))])
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *capped) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Reset()
}

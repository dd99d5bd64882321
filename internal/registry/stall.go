package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"
)

// DefaultStallTimeout is how long a request may make no progress at all
// (no request body byte taken, no response header, no response body byte)
// before it is abandoned. StallTimeoutEnv overrides it.
const DefaultStallTimeout = 60 * time.Second

// StallTimeoutEnv names the environment variable that sets the stall
// timeout (a Go duration such as "90s"), for slow links and for tests.
const StallTimeoutEnv = "IMAGESYNC_STALL_TIMEOUT"

// stallTimeoutFromEnv is the stall timeout StallTimeoutEnv asks for, or
// DefaultStallTimeout when it is unset or unparsable.
func stallTimeoutFromEnv() time.Duration {
	if v := os.Getenv(StallTimeoutEnv); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return DefaultStallTimeout
}

// stallGuard is an http.RoundTripper, under the retry layer, that abandons
// a request on which nothing moves for idle. http.Transport's own timeouts
// cover only the wait for response headers; a registry (or a proxy) that
// stops sending a blob's body in the middle, or stops reading an upload,
// would otherwise hang a run for good.
//
// A stall before the response is an error that is a net.Error with
// Timeout() true, which the retry layer retries; a stall in a response
// body makes its Read fail with that error (the copy engine then starts
// the blob transfer again).
//
// Besides, while a body moves, it must move at least minRate bytes a
// second, averaged over each period of idle: a registry that sends a byte
// every few seconds (never idle for long, never done) fails with a
// *SlowError. That is not a transient fault: nothing retries or resumes
// it, the source is left for the next (or the target's upload started
// again, within the copy engine's restarts).
type stallGuard struct {
	next    http.RoundTripper
	idle    time.Duration
	minRate int64 // bytes per second; 0: no minimum
}

// DefaultMinThroughput is the least a body must move while it moves, in
// bytes per second averaged over each stall timeout (60 KiB a minute by
// default). A link slower than that is not one a run can finish on.
const DefaultMinThroughput = 1024

// SlowError is a request abandoned because its body moved, but more
// slowly than the minimum throughput.
type SlowError struct {
	What   string        // "GET host/path"
	Moved  int64         // bytes moved in the last period
	Period time.Duration // the period measured
	Min    int64         // bytes per second required
}

// Error implements error.
func (e *SlowError) Error() string {
	return fmt.Sprintf("%s too slow: %d bytes in %v, less than the %d bytes a second required", e.What, e.Moved, e.Period, e.Min)
}

// StallError is a request abandoned because nothing moved for a while.
type StallError struct {
	What string        // "GET host/path"
	Idle time.Duration // how long nothing moved
}

// Error implements error.
func (e *StallError) Error() string {
	return fmt.Sprintf("%s stalled: nothing received or sent for %v", e.What, e.Idle)
}

// Timeout reports true: a stall is a timeout (net.Error).
func (e *StallError) Timeout() bool { return true }

// Temporary reports true (net.Error).
func (e *StallError) Temporary() bool { return true }

// RoundTrip implements http.RoundTripper.
func (g *stallGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if g.idle <= 0 {
		return g.next.RoundTrip(req)
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	what := req.Method + " " + req.URL.Host + req.URL.EscapedPath()
	w := &watchdog{
		err:     &StallError{What: what, Idle: g.idle},
		what:    what,
		idle:    g.idle,
		minRate: g.minRate,
		cancel:  cancel,
	}
	w.timer = time.AfterFunc(g.idle, w.fire)
	out := req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength != 0 {
		out.Body = &guardedBody{rc: req.Body, w: w}
	}
	resp, err := g.next.RoundTrip(out)
	if err != nil {
		w.done()
		defer cancel(context.Canceled)
		if cause := w.fired(); cause != nil {
			return nil, cause
		}
		return nil, err
	}
	w.kick(0)
	resp.Body = &guardedBody{rc: resp.Body, w: w, response: true}
	return resp, nil
}

// watchdog cancels a request when it is not kicked for idle, or, once a
// body moves, when fewer than minRate bytes a second move in a period of
// idle.
type watchdog struct {
	err     *StallError
	what    string
	idle    time.Duration
	minRate int64
	cancel  context.CancelCauseFunc
	timer   *time.Timer

	mu        sync.Mutex
	cause     error // why it fired, nil until then
	stopped   bool
	rateTimer *time.Timer // armed by the first byte moved
	rateGen   int         // which arming of rateTimer is current
	moved     int64       // bytes moved in the current period
	lastKick  time.Time
}

func (w *watchdog) fire() { w.fireWith(w.err) }

func (w *watchdog) fireWith(cause error) {
	w.mu.Lock()
	if w.stopped || w.cause != nil {
		w.mu.Unlock()
		return
	}
	w.cause = cause
	w.mu.Unlock()
	w.cancel(cause)
}

// fired is why the watchdog fired, nil if it did not.
func (w *watchdog) fired() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cause
}

// kick records progress: n body bytes moved (0 for the headers).
func (w *watchdog) kick(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.cause != nil {
		return
	}
	w.timer.Reset(w.idle)
	w.lastKick = time.Now()
	w.moved += int64(n)
	if n > 0 && w.minRate > 0 && w.rateTimer == nil {
		w.moved = int64(n)
		w.rateGen++
		gen := w.rateGen
		w.rateTimer = time.AfterFunc(w.idle, func() { w.checkRate(gen) })
	}
}

// checkRate ends a period: fewer bytes than the minimum, but some, fail
// the request.
func (w *watchdog) checkRate(gen int) {
	w.mu.Lock()
	if w.stopped || w.cause != nil || gen != w.rateGen || w.rateTimer == nil {
		w.mu.Unlock()
		return
	}
	moved := w.moved
	w.moved = 0
	// Nothing moved for a whole period: a stall, the stall timer's (a
	// timeout, which a download resumes after).
	if time.Since(w.lastKick) >= w.idle {
		w.mu.Unlock()
		return
	}
	if need := int64(float64(w.minRate) * w.idle.Seconds()); moved >= need {
		w.rateTimer.Reset(w.idle)
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	w.fireWith(&SlowError{What: w.what, Moved: moved, Period: w.idle, Min: w.minRate})
}

// sent ends the measure of throughput when the request's body is all
// sent: the registry may take a while to answer (to check an upload's
// digest), which the stall timer bounds; the response's body, when it
// moves, is measured from its first byte.
func (w *watchdog) sent() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rateTimer != nil {
		w.rateTimer.Stop()
		w.rateTimer = nil
	}
}

// done stops watching; the request is over.
func (w *watchdog) done() {
	w.mu.Lock()
	w.stopped = true
	rate := w.rateTimer
	w.mu.Unlock()
	w.timer.Stop()
	if rate != nil {
		rate.Stop()
	}
}

// guardedBody kicks the watchdog on every byte that moves. As a response
// body it also ends the watch at EOF or Close, and turns the failure a
// stall causes into the StallError.
type guardedBody struct {
	rc       io.ReadCloser
	w        *watchdog
	response bool
}

func (b *guardedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.w.kick(n)
	}
	if errors.Is(err, io.EOF) && !b.response {
		b.w.sent()
	}
	if err != nil && b.response {
		if errors.Is(err, io.EOF) {
			b.w.done()
		} else if cause := b.w.fired(); cause != nil {
			b.w.done()
			return n, cause
		}
	}
	return n, err
}

func (b *guardedBody) Close() error {
	if b.response {
		b.w.done()
		defer b.w.cancel(context.Canceled)
	}
	return b.rc.Close()
}

// requestLog logs every request (method, URL without its query, status or
// error, duration) at debug level. Headers are never logged: they carry
// credentials.
type requestLog struct {
	next   http.RoundTripper
	logger *slog.Logger
}

// RoundTrip implements http.RoundTripper.
func (l *requestLog) RoundTrip(req *http.Request) (*http.Response, error) {
	if !l.logger.Enabled(req.Context(), slog.LevelDebug) {
		return l.next.RoundTrip(req)
	}
	start := time.Now()
	resp, err := l.next.RoundTrip(req)
	where := redactURL(req.URL.String())
	if err != nil {
		l.logger.Debug("request failed", "method", req.Method, "url", where, "err", redactURLError(err), "duration", time.Since(start))
		return nil, err
	}
	l.logger.Debug("request", "method", req.Method, "url", where, "status", resp.StatusCode, "duration", time.Since(start))
	return resp, nil
}

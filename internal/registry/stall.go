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
type stallGuard struct {
	next http.RoundTripper
	idle time.Duration
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
	w := &watchdog{
		err:    &StallError{What: req.Method + " " + req.URL.Host + req.URL.EscapedPath(), Idle: g.idle},
		idle:   g.idle,
		cancel: cancel,
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
		if w.fired() {
			return nil, w.err
		}
		return nil, err
	}
	w.kick()
	resp.Body = &guardedBody{rc: resp.Body, w: w, response: true}
	return resp, nil
}

// watchdog cancels a request when it is not kicked for idle.
type watchdog struct {
	err    *StallError
	idle   time.Duration
	cancel context.CancelCauseFunc
	timer  *time.Timer

	mu       sync.Mutex
	hasFired bool
	stopped  bool
}

func (w *watchdog) fire() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.hasFired = true
	w.mu.Unlock()
	w.cancel(w.err)
}

func (w *watchdog) fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hasFired
}

// kick records progress.
func (w *watchdog) kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped && !w.hasFired {
		w.timer.Reset(w.idle)
	}
}

// done stops watching; the request is over.
func (w *watchdog) done() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.timer.Stop()
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
		b.w.kick()
	}
	if err != nil && b.response {
		if errors.Is(err, io.EOF) {
			b.w.done()
		} else if b.w.fired() {
			b.w.done()
			return n, b.w.err
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

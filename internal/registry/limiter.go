package registry

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// limiter bounds how many of something run at once; unlike a channel
// semaphore its limit can change while it is in use (a host found to be
// far away gets more requests in flight).
type limiter struct {
	mu    sync.Mutex
	limit int
	used  int
	freed chan struct{} // closed (and replaced) whenever room may have appeared
}

func newLimiter(n int) *limiter {
	return &limiter{limit: max(n, 1), freed: make(chan struct{})}
}

// acquire waits for room, or for ctx to end.
func (l *limiter) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.used < l.limit {
			l.used++
			l.mu.Unlock()
			return nil
		}
		wait := l.freed
		l.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *limiter) release() {
	l.mu.Lock()
	l.used--
	l.wake()
	l.mu.Unlock()
}

// setLimit changes the limit; holders above a lowered limit keep their
// room until they release it.
func (l *limiter) setLimit(n int) {
	l.mu.Lock()
	if n = max(n, 1); n != l.limit {
		l.limit = n
		l.wake()
	}
	l.mu.Unlock()
}

func (l *limiter) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// wake lets every waiter look again; l.mu is held.
func (l *limiter) wake() {
	close(l.freed)
	l.freed = make(chan struct{})
}

// FarRoundTrip is the round trip from which a registry host counts as far
// away: its bounds on requests and blob transfers in flight are then
// multiplied by farFactor. Far from the registry, time goes to waiting for
// answers, not to moving bytes or to the registry's CPU, and more requests
// in flight keep the link busy; close by, more would only queue.
const FarRoundTrip = 20 * time.Millisecond

// farFactor is how much more a far host gets in flight.
const farFactor = 4

// latency estimates a host's round trip: the quickest answer (response
// headers) to a request without a body seen so far, which includes the
// registry's own time and, for a first request, the connection's setup;
// the quickest is the one closest to the network's round trip.
type latency struct {
	mu       sync.Mutex
	best     time.Duration
	onChange func(best time.Duration)
}

func (l *latency) observe(d time.Duration) {
	l.mu.Lock()
	changed := l.best == 0 || d < l.best
	if changed {
		l.best = d
	}
	l.mu.Unlock()
	if changed && l.onChange != nil {
		l.onChange(d)
	}
}

// roundTrip is the estimate, 0 before the first answer.
func (l *latency) roundTrip() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.best
}

// latencyProbe is an http.RoundTripper (one try, under the retry layer)
// that times the requests without a body up to their response headers.
type latencyProbe struct {
	next http.RoundTripper
	l    *latency
}

func (p *latencyProbe) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		return p.next.RoundTrip(req)
	}
	start := time.Now()
	resp, err := p.next.RoundTrip(req)
	if err == nil {
		p.l.observe(time.Since(start))
	}
	return resp, err
}

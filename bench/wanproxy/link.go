// Package wanproxy makes a registry on loopback look far away, for the
// benchmark's WAN mode (docs/benchmarks.md): a TCP proxy in front of each
// registry that delays every chunk by half the round trip in each
// direction, adds one round trip to every new connection (the TCP
// handshake a real client pays before its first byte), shares a bandwidth
// cap per direction among every connection of every proxy on one Link
// (the client's access link), and optionally caps the bytes one
// connection may have in flight (a TCP window: one stream then cannot
// fill a long fat link alone). Kernel traffic shaping (tc netem) is not
// available where the benchmark runs; this is the same in user space.
//
// It also reads the HTTP/1.1 exchanges that cross it, without changing
// them, so that the benchmark can tell which requests waited for which
// (Log, LongestChain).
package wanproxy

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Link is the simulated network between the client and every registry
// proxied through it: the round trip, and the bandwidth of each direction,
// shared by all connections.
type Link struct {
	rtt    time.Duration
	window int64   // bytes in flight per connection and direction; 0: no cap
	up     *bucket // client to registry; nil: no cap
	down   *bucket // registry to client; nil: no cap
	mbit   float64
}

// NewLink returns a link with the round trip rtt and mbit megabits per
// second in each direction (0: no cap), and window bytes in flight per
// connection and direction (0: no cap).
func NewLink(rtt time.Duration, mbit float64, window int64) *Link {
	l := &Link{rtt: rtt, window: window, mbit: mbit}
	if mbit > 0 {
		rate := mbit * 1e6 / 8
		l.up, l.down = newBucket(rate), newBucket(rate)
	}
	return l
}

// ParseLink reads "RTT,MBIT[,WINDOW]" as bench/run.sh --wan takes it:
// "150ms,200" is a 150 ms round trip and 200 Mbit/s each way;
// "150ms,200,4MiB" caps every connection at 4 MiB in flight too.
func ParseLink(s string) (*Link, error) {
	parts := strings.Split(s, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("--wan %q: want RTT,MBIT[,WINDOW], e.g. 150ms,200", s)
	}
	rtt, err := time.ParseDuration(strings.TrimSpace(parts[0]))
	if err != nil || rtt < 0 {
		return nil, fmt.Errorf("--wan %q: round trip %q: want a duration such as 150ms", s, parts[0])
	}
	mbit, err := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
	if err != nil || mbit < 0 {
		return nil, fmt.Errorf("--wan %q: bandwidth %q: want megabits per second, e.g. 200", s, parts[1])
	}
	var window int64
	if len(parts) == 3 {
		if window, err = parseBytes(strings.TrimSpace(parts[2])); err != nil {
			return nil, fmt.Errorf("--wan %q: window: %w", s, err)
		}
	}
	return NewLink(rtt, mbit, window), nil
}

// parseBytes reads "4MiB", "512KiB" or a number of bytes.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.n
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want bytes, e.g. 4MiB", s)
	}
	return n * mult, nil
}

// RTT is the link's round trip.
func (l *Link) RTT() time.Duration { return l.rtt }

// Mbit is the bandwidth of each direction in megabits per second, 0 when
// it is not capped.
func (l *Link) Mbit() float64 { return l.mbit }

// Window is the cap on bytes in flight per connection, 0 when none.
func (l *Link) Window() int64 { return l.window }

// String describes the link for reports: "150ms RTT, 200 Mbit/s each way".
func (l *Link) String() string {
	s := l.rtt.String() + " RTT"
	if l.mbit > 0 {
		s += fmt.Sprintf(", %g Mbit/s each way (shared by all connections)", l.mbit)
	} else {
		s += ", no bandwidth cap"
	}
	if l.window > 0 {
		s += fmt.Sprintf(", at most %d bytes in flight per connection", l.window)
	}
	return s
}

// bucket is a token bucket of bytes: rate bytes per second, with a burst
// of a few milliseconds' worth so that small chunks are not each delayed.
// Every connection of a direction takes from the same bucket: they share
// the bandwidth, as connections share a real link.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64) *bucket {
	burst := max(rate*0.002, 64<<10)
	return &bucket{rate: rate, burst: burst, tokens: burst, last: time.Now()}
}

// reserve takes n bytes and returns how long to wait before sending them.
// Tokens go negative: a later caller waits for what earlier ones took too,
// so concurrent senders are served in turn at the shared rate.
func (b *bucket) reserve(n int) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// window bounds the bytes one connection has in flight in one direction:
// a chunk sent is acknowledged one round trip later.
type window struct {
	mu    sync.Mutex
	cond  *sync.Cond
	limit int64
	used  int64
	ack   time.Duration
}

func newWindow(limit int64, ack time.Duration) *window {
	w := &window{limit: limit, ack: ack}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// acquire waits until n more bytes fit in the window (a chunk larger than
// the window waits for an empty one), then schedules their
// acknowledgement.
func (w *window) acquire(n int) {
	if w == nil || w.limit <= 0 {
		return
	}
	w.mu.Lock()
	for w.used > 0 && w.used+int64(n) > w.limit {
		w.cond.Wait()
	}
	w.used += int64(n)
	w.mu.Unlock()
	time.AfterFunc(w.ack, func() {
		w.mu.Lock()
		w.used -= int64(n)
		w.mu.Unlock()
		w.cond.Broadcast()
	})
}

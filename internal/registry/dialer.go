package registry

import (
	"context"
	"net"
	"net/url"
	"sync"
	"time"
)

// warmDialer dials connections ahead of the requests that will need them:
// while a host's first ping is under way, the requests waiting for it
// have their connections opened (warm), so that on a far host each of
// them starts a round trip earlier (two with TLS, whose handshake the HTTP
// transport still makes on the connection it gets). A connection dialled
// ahead and not taken within warmMaxAge is closed.
type warmDialer struct {
	dialer  net.Dialer
	limit   int // connections kept ready per address
	mu      sync.Mutex
	ready   map[string][]warmConn
	dialing map[string]int // dials ahead under way per address
}

type warmConn struct {
	net.Conn
	at time.Time
}

// warmMaxAge is how long a connection dialled ahead waits to be taken:
// registries and proxies close idle connections, and one they closed
// would fail the request that took it.
const warmMaxAge = 10 * time.Second

func newWarmDialer(limit int) *warmDialer {
	// The settings of http.DefaultTransport's dialer.
	return &warmDialer{dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}, limit: limit, ready: map[string][]warmConn{}, dialing: map[string]int{}}
}

// DialContext hands out a connection dialled ahead for addr, else dials.
func (w *warmDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network == "tcp" {
		w.mu.Lock()
		for len(w.ready[addr]) > 0 {
			c := w.ready[addr][0]
			w.ready[addr] = w.ready[addr][1:]
			if time.Since(c.at) < warmMaxAge {
				w.mu.Unlock()
				return c.Conn, nil
			}
			_ = c.Close()
		}
		w.mu.Unlock()
	}
	return w.dialer.DialContext(ctx, network, addr)
}

// warm dials one more connection to u's host in the background, for one
// more request about to be sent.
func (w *warmDialer) warm(u *url.URL) { w.dialAhead(u, func(have int) int { return 1 }) }

// warmUpTo makes sure n connections to u's host are ready or being
// dialled, for n requests about to be sent: those already dialled ahead
// for them count.
func (w *warmDialer) warmUpTo(u *url.URL, n int) {
	w.dialAhead(u, func(have int) int { return n - have })
}

// dialAhead dials more(have) connections to u's host in the background,
// have counting those ready or being dialled, within the limit.
func (w *warmDialer) dialAhead(u *url.URL, more func(have int) int) {
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	w.mu.Lock()
	have := len(w.ready[addr]) + w.dialing[addr]
	n := min(more(have), w.limit-have)
	w.dialing[addr] += max(n, 0)
	w.mu.Unlock()
	for range n {
		go w.dialOne(addr)
	}
}

// dialOne dials a connection to addr and keeps it ready.
func (w *warmDialer) dialOne(addr string) {
	ctx, cancel := context.WithTimeout(context.Background(), w.dialer.Timeout)
	defer cancel()
	c, err := w.dialer.DialContext(ctx, "tcp", addr)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dialing[addr]--
	if err == nil { // else the request dials for itself
		w.ready[addr] = append(w.ready[addr], warmConn{Conn: c, at: time.Now()})
	}
}

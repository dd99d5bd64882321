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
	dialer net.Dialer
	limit  int // connections kept ready per address
	mu     sync.Mutex
	ready  map[string][]warmConn
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
	return &warmDialer{dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}, limit: limit, ready: map[string][]warmConn{}}
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

// warm dials one connection to u's host in the background.
func (w *warmDialer) warm(u *url.URL) {
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	w.mu.Lock()
	full := len(w.ready[addr]) >= w.limit
	w.mu.Unlock()
	if full {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), w.dialer.Timeout)
		defer cancel()
		c, err := w.dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return // the request dials for itself
		}
		w.mu.Lock()
		w.ready[addr] = append(w.ready[addr], warmConn{Conn: c, at: time.Now()})
		w.mu.Unlock()
	}()
}

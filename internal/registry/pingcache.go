package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// pingCache answers the registry's "GET /v2/" ping from memory after the
// first time. go-containerregistry pings once per repository and scope to
// learn how to authenticate; the answer is the same for every repository
// of a host, and without the cache a plan of a thousand images would send
// a thousand extra requests.
//
// It also keeps the first contact with a far host short:
//   - go-containerregistry pings a host it may speak plain HTTP to
//     (loopback, private addresses, insecure = true) over https first and
//     over http only once that failed or 300 ms passed: two round trips in
//     a row on a far host. With plainToo, the http ping leaves with the
//     https one, and is answered from here when its turn comes (https
//     still wins when the host speaks it);
//   - every request that waits for the host's first ping has a connection
//     dialled for it meanwhile (warm), so that it does not wait for a
//     handshake afterwards.
type pingCache struct {
	next     http.RoundTripper
	plainToo bool
	warm     *connWarmer // nil: no dialling ahead
	mu       sync.Mutex
	pings    map[string]*pingEntry // by scheme://host
}

// pingEntry is one ping, in flight until done is closed; c is its answer
// once it describes the registry (200 or 401).
type pingEntry struct {
	done chan struct{}
	c    *cachedPing
	// prefetched: the http ping sent along with an https one; whoever
	// waits for it had a connection dialled for the https one already.
	prefetched bool
}

type cachedPing struct {
	scheme string
	status int
	header http.Header
	body   []byte
}

func newPingCache(next http.RoundTripper) *pingCache {
	return &pingCache{next: next, pings: map[string]*pingEntry{}}
}

// RoundTrip implements http.RoundTripper.
func (p *pingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.Path != "/v2/" {
		return p.next.RoundTrip(req)
	}
	key := req.URL.Scheme + "://" + req.URL.Host
	warmed := false
	for {
		p.mu.Lock()
		if other := p.answeredOver(req.URL.Host, req.URL.Scheme); other != "" {
			p.mu.Unlock()
			// go-containerregistry pings an insecure host over https and
			// http; the host already told us which one it speaks.
			return nil, fmt.Errorf("%s speaks %s, not %s", req.URL.Host, other, req.URL.Scheme)
		}
		e, ok := p.pings[key]
		if ok && e.c != nil {
			p.mu.Unlock()
			return e.c.response(req), nil
		}
		if !ok {
			e = &pingEntry{done: make(chan struct{})}
			p.pings[key] = e
			p.mu.Unlock()
			// Two spare connections: the http ping below may take one
			// dialled for a waiting request, and requests that do not
			// wait for the ping may come meanwhile. Those dialled ahead
			// already (Client.Preconnect) count.
			p.warm.warmUpTo(req, 2)
			if p.plainToo && req.URL.Scheme == "https" {
				p.pingPlain(req)
			}
			return p.send(req, key, e)
		}
		p.mu.Unlock()
		// Concurrent first pings of one host wait for the first one's
		// answer, so that a plan sends one ping per host, not one per
		// request slot; the request each stands for gets a connection.
		if !warmed && !e.prefetched {
			p.warm.warm(req)
			warmed = true
		}
		select {
		case <-e.done:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
}

// answeredOver names the scheme host answered a ping over, if not scheme;
// p.mu is held.
func (p *pingCache) answeredOver(host, scheme string) string {
	for _, s := range []string{"https", "http"} {
		if e := p.pings[s+"://"+host]; s != scheme && e != nil && e.c != nil {
			return s
		}
	}
	return ""
}

// send pings through next. Only the answers that describe the registry
// are kept; anything else (a 5xx that outlived the retries, an error) is
// passed on, and the next ping asks again.
func (p *pingCache) send(req *http.Request, key string, e *pingEntry) (*http.Response, error) {
	defer close(e.done)
	resp, err := p.next.RoundTrip(req)
	if err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized) {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if rerr == nil {
			p.mu.Lock()
			e.c = &cachedPing{scheme: req.URL.Scheme, status: resp.StatusCode, header: resp.Header.Clone(), body: body}
			p.mu.Unlock()
			return e.c.response(req), nil
		}
		resp, err = nil, rerr
	}
	p.mu.Lock()
	delete(p.pings, key)
	p.mu.Unlock()
	return resp, err
}

// pingPlain sends the http ping of an https one in the background, unless
// one is under way or answered already.
func (p *pingCache) pingPlain(req *http.Request) {
	plain := req.Clone(context.WithoutCancel(req.Context()))
	plain.URL.Scheme = "http"
	key := "http://" + plain.URL.Host
	p.mu.Lock()
	if _, ok := p.pings[key]; ok {
		p.mu.Unlock()
		return
	}
	e := &pingEntry{done: make(chan struct{}), prefetched: true}
	p.pings[key] = e
	p.mu.Unlock()
	go func() {
		if resp, err := p.send(plain, key, e); err == nil {
			resp.Body.Close()
		}
	}()
}

// known reports whether the host behind key ("https://host") has a ping
// answer, sent or remembered.
func (p *pingCache) known(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.pings[key]
	return ok && e.c != nil
}

// remember keeps c as the ping answer of the host behind key, unless one
// is there or under way: a 401 that a request without credentials got
// carries the challenge a ping would have (lazyAuth).
func (p *pingCache) remember(key string, c *cachedPing) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.pings[key]; ok {
		return
	}
	e := &pingEntry{done: make(chan struct{}), c: c}
	close(e.done)
	p.pings[key] = e
}

func (c *cachedPing) response(req *http.Request) *http.Response {
	return &http.Response{
		Status:        http.StatusText(c.status),
		StatusCode:    c.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        c.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)),
		Request:       req,
	}
}

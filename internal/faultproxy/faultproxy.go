// Package faultproxy is a reverse proxy for tests that stands in front of a
// real registry (a docker-registry process on loopback) and injects the
// faults real registries and the networks in front of them produce: 429
// with Retry-After, 5xx answers, connections reset in the middle of a
// body, requests that stall until the client gives up, truncated bodies,
// blobs whose bytes do not match their digest, manifests other than the
// one asked for, redirect loops, and slow answers. Every injection is
// counted, and so are the request bytes that pass through it (what a
// client uploads, again when it has to start over).
//
// The proxy keeps the client's Host header, so the registry builds its
// upload Locations pointing back at the proxy and every request of a
// session goes through it.
//
// Like internal/testregistry, this package does not import "testing".
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Stats are the proxy's counters since Start (or the last ResetStats).
type Stats struct {
	Requests int64 // requests received
	// RequestBytes is every request body byte read from clients, including
	// those of uploads that were cut off and sent again.
	RequestBytes int64
	// UploadBytes is the part of RequestBytes that belongs to blob upload
	// sessions (/blobs/uploads/).
	UploadBytes int64
	// ResponseBytes is every response body byte written to clients.
	ResponseBytes int64
	Injections    int64
}

// Proxy is a running fault-injecting reverse proxy on a loopback port.
type Proxy struct {
	ln   net.Listener
	srv  *http.Server
	tr   *http.Transport
	done chan struct{} // closed by Close: releases stalled requests

	mu         sync.Mutex
	backend    *url.URL
	rules      []*Rule
	injections []Injection

	requests, requestBytes, uploadBytes, responseBytes, injected atomic.Int64
	closeOnce                                                    sync.Once
}

// parseBackend checks a backend URL.
func parseBackend(backend string) (*url.URL, error) {
	u, err := url.Parse(backend)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: backend %q: want http://host:port", backend)
	}
	return u, nil
}

// Start serves a proxy to backend ("http://127.0.0.1:PORT") on a free
// loopback port.
func Start(backend string) (*Proxy, error) {
	u, err := parseBackend(backend)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{
		backend: u,
		ln:      ln,
		done:    make(chan struct{}),
		tr: &http.Transport{
			Proxy:               nil, // never through HTTP(S)_PROXY: the registry is on loopback
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			DisableCompression:  true,
			MaxIdleConnsPerHost: 32,
		},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Host is the proxy's "127.0.0.1:PORT".
func (p *Proxy) Host() string { return p.ln.Addr().String() }

// URL is "http://127.0.0.1:PORT".
func (p *Proxy) URL() string { return "http://" + p.Host() }

// SetBackend points the proxy at another registry, as a load balancer
// does when the registry behind it restarts elsewhere; requests under way
// finish with the old one.
func (p *Proxy) SetBackend(backend string) error {
	u, err := parseBackend(backend)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backend = u
	return nil
}

// Add installs a rule; rules are tried in the order added and the first
// that fires decides. It returns r for its counters.
func (p *Proxy) Add(r *Rule) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, r)
	return r
}

// Clear removes every rule; counters and the injection log stay.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Injections is the log of injected faults, oldest first.
func (p *Proxy) Injections() []Injection {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Injection(nil), p.injections...)
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	return Stats{
		Requests:      p.requests.Load(),
		RequestBytes:  p.requestBytes.Load(),
		UploadBytes:   p.uploadBytes.Load(),
		ResponseBytes: p.responseBytes.Load(),
		Injections:    p.injected.Load(),
	}
}

// ResetStats sets the counters to zero.
func (p *Proxy) ResetStats() {
	p.requests.Store(0)
	p.requestBytes.Store(0)
	p.uploadBytes.Store(0)
	p.responseBytes.Store(0)
	p.injected.Store(0)
}

// Close stops the proxy, releasing stalled requests and closing every
// connection.
func (p *Proxy) Close() error {
	var err error
	p.closeOnce.Do(func() {
		close(p.done)
		err = p.srv.Close()
		p.tr.CloseIdleConnections()
	})
	return err
}

// rule returns the rule that fires for req, nil if none does.
func (p *Proxy) rule(req *http.Request) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		if r.take(req) {
			p.injections = append(p.injections, Injection{Rule: r.name(), Fault: r.Fault, Method: req.Method, Path: req.URL.Path, At: time.Now()})
			p.injected.Add(1)
			return r
		}
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p.requests.Add(1)
	upload := Uploads.MatchString(req.URL.Path)
	req.Body = &countingBody{rc: req.Body, counters: p.bodyCounters(upload)}
	r := p.rule(req)
	if r != nil && r.OnInject != nil {
		r.OnInject(req)
	}
	if r == nil {
		p.forward(w, req, nil)
		return
	}
	switch r.Fault {
	case Status:
		drain(req.Body)
		if r.RetryAfter != "" {
			w.Header().Set("Retry-After", r.RetryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		code := cmpOr(r.Code, http.StatusServiceUnavailable)
		w.WriteHeader(code)
		p.write(w, fmt.Appendf(nil, `{"errors":[{"code":"UNAVAILABLE","message":"faultproxy: injected %d"}]}`+"\n", code))
	case Replace:
		drain(req.Body)
		for k, v := range r.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(r.Body)))
		w.WriteHeader(cmpOr(r.Code, http.StatusOK))
		if req.Method != http.MethodHead {
			p.write(w, r.Body)
		}
	case Redirect:
		drain(req.Body)
		http.Redirect(w, req, req.URL.RequestURI(), http.StatusTemporaryRedirect)
	case Stall:
		p.stall(req.Context(), r.Delay)
		if r.Delay > 0 && req.Context().Err() == nil {
			p.forward(w, req, nil)
			return
		}
		abort(w)
	case Delay:
		select {
		case <-time.After(r.Delay):
		case <-req.Context().Done():
			return
		case <-p.done:
			return
		}
		p.forward(w, req, nil)
	case ResetUpload:
		req.Body = &cutBody{rc: req.Body, left: r.AfterBytes}
		p.forward(w, req, r)
	default: // faults on the response body
		p.forward(w, req, r)
	}
}

func (p *Proxy) bodyCounters(upload bool) []*atomic.Int64 {
	if upload {
		return []*atomic.Int64{&p.requestBytes, &p.uploadBytes}
	}
	return []*atomic.Int64{&p.requestBytes}
}

// stall waits until the client leaves, the proxy closes, or max (when set)
// passes.
func (p *Proxy) stall(ctx context.Context, limit time.Duration) {
	var timeout <-chan time.Time
	if limit > 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
	case <-p.done:
	case <-timeout:
	}
}

// errCut is what a cutBody returns after its allowance.
var errCut = errors.New("faultproxy: upload cut off")

// forward sends req to the registry and copies the answer, applying r's
// fault to the response body (r nil: none).
func (p *Proxy) forward(w http.ResponseWriter, req *http.Request, r *Rule) {
	p.mu.Lock()
	backend := p.backend
	p.mu.Unlock()
	out := req.Clone(req.Context())
	out.RequestURI = ""
	out.URL.Scheme = backend.Scheme
	out.URL.Host = backend.Host
	out.Host = req.Host // the registry builds Locations from it: they point back here
	removeHopHeaders(out.Header)
	if req.ContentLength == 0 {
		out.Body = nil
	}
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		if (r != nil && r.Fault == ResetUpload) || req.Context().Err() != nil {
			reset(w)
			return
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			// The registry is down (restarting): answer as nginx would.
			w.WriteHeader(http.StatusBadGateway)
			p.write(w, []byte(`{"errors":[{"code":"UNAVAILABLE","message":"faultproxy: bad gateway"}]}`+"\n"))
			return
		}
		reset(w)
		return
	}
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	if resp.ContentLength >= 0 && req.Method != http.MethodHead {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	if req.Method == http.MethodHead {
		return
	}
	var fault Fault
	if r != nil {
		fault = r.Fault
	}
	switch fault {
	case Reset, StallBody, Truncate:
		p.copyN(w, resp.Body, r.AfterBytes)
		flush(w)
		switch fault {
		case Reset:
			reset(w)
		case StallBody:
			p.stall(req.Context(), 0)
			abort(w)
		case Truncate:
			closeConn(w)
		}
	case Corrupt:
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			reset(w)
			return
		}
		if len(body) > 0 {
			i := min(max(r.AfterBytes, 0), int64(len(body)-1))
			body[i] ^= 0xff
		}
		p.write(w, body)
	default:
		if _, err := p.copy(w, resp.Body); err != nil {
			reset(w) // the registry died in the middle: so does this answer
		}
	}
}

// copy copies a response body to the client, counting it.
func (p *Proxy) copy(w io.Writer, r io.Reader) (int64, error) {
	n, err := io.Copy(w, r)
	p.responseBytes.Add(n)
	return n, err
}

func (p *Proxy) copyN(w io.Writer, r io.Reader, n int64) {
	m, _ := io.CopyN(w, r, n)
	p.responseBytes.Add(m)
}

func (p *Proxy) write(w io.Writer, b []byte) {
	n, _ := w.Write(b)
	p.responseBytes.Add(int64(n))
}

// countingBody counts the request body bytes read.
type countingBody struct {
	rc       io.ReadCloser
	counters []*atomic.Int64
}

func (c *countingBody) Read(b []byte) (int, error) {
	n, err := c.rc.Read(b)
	for _, ctr := range c.counters {
		ctr.Add(int64(n))
	}
	return n, err
}

func (c *countingBody) Close() error { return c.rc.Close() }

// cutBody passes on left bytes of a request body, then fails.
type cutBody struct {
	rc   io.ReadCloser
	left int64
}

func (c *cutBody) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCut
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.rc.Read(b)
	c.left -= int64(n)
	return n, err
}

func (c *cutBody) Close() error { return c.rc.Close() }

// hopHeaders are the hop-by-hop headers a proxy does not pass on.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopHeaders(h http.Header) {
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<20)) }

func flush(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() }

// reset ends the connection with a TCP RST, as a crashed peer or a
// middlebox dropping state does.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// closeConn ends the connection cleanly (FIN) whatever the response said.
func closeConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// abort drops the connection of a request that got no answer.
func abort(w http.ResponseWriter) { closeConn(w) }

func cmpOr(v, def int) int {
	if v != 0 {
		return v
	}
	return def
}

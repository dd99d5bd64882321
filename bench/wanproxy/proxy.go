package wanproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// chunkSize is how much a pump reads at once: a few TCP segments, small
// next to what a 150 ms, 200 Mbit/s link holds in flight (about 3.6 MiB).
const chunkSize = 32 << 10

// queueChunks bounds the chunks one direction of one connection holds on
// their way (the data in the simulated pipe); a sender beyond it blocks,
// as a real sender blocks on a full send buffer.
const queueChunks = 4096

// Proxy forwards TCP connections from its own loopback address to one
// upstream address over a Link.
type Proxy struct {
	link     *Link
	upstream string
	ln       net.Listener
	log      *Log
	nextConn atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Start listens on a free loopback port and forwards every connection to
// upstream ("127.0.0.1:5000") over the link; name labels its exchanges in
// the log ("source", "target").
func (l *Link) Start(name, upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{link: l, upstream: upstream, ln: ln, log: &Log{name: name}, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's address, "127.0.0.1:PORT": what clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Log is the record of the HTTP exchanges that crossed the proxy.
func (p *Proxy) Log() *Log { return p.log }

// Close stops accepting, cuts every connection and waits for them.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// track remembers c for Close; false when the proxy is closing.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve carries one connection. The client's connect() returned at once
// on loopback; a real one would have waited a round trip for the
// handshake, so its first bytes leave no earlier than one RTT after the
// connection was accepted.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	accepted := time.Now()
	if !p.track(client) {
		_ = client.Close()
		return
	}
	defer p.untrack(client)
	upstream, err := net.Dial("tcp", p.upstream)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(upstream) {
		_ = client.Close()
		_ = upstream.Close()
		return
	}
	defer p.untrack(upstream)
	sn := p.log.sniff(p.nextConn.Add(1))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.pump(client, upstream, p.link.up, accepted.Add(p.link.rtt), sn.request, true)
	}()
	go func() {
		defer wg.Done()
		p.pump(upstream, client, p.link.down, time.Time{}, sn.response, false)
	}()
	wg.Wait()
	_ = client.Close()
	_ = upstream.Close()
}

// chunk is data on its way through the simulated pipe.
type chunk struct {
	data []byte
	due  time.Time // when it reaches the other end
	err  error     // set on the last chunk: how the sender's side ended
}

// pump moves one direction of a connection: every chunk waits for the
// connection to be up (notBefore), for the direction's shared bandwidth
// and for the connection's window, then arrives half a round trip later,
// in order. at is fed every chunk for the exchange log: at its sending
// time when sentSide, else at its arrival.
func (p *Proxy) pump(src, dst net.Conn, bw *bucket, notBefore time.Time, at *stream, sentSide bool) {
	half := p.link.rtt / 2
	win := newWindow(p.link.window, p.link.rtt)
	queue := make(chan chunk, queueChunks)
	go func() {
		defer close(queue)
		var last time.Time
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			if n > 0 {
				if sentSide {
					at.feed(buf[:n], time.Now())
				}
				sleepUntil(notBefore)
				if bw != nil {
					time.Sleep(bw.reserve(n))
				}
				win.acquire(n)
				due := time.Now().Add(half)
				if due.Before(last) {
					due = last // chunks never overtake each other
				}
				last = due
				queue <- chunk{data: buf[:n], due: due}
			}
			if err != nil {
				due := time.Now().Add(half)
				if due.Before(last) {
					due = last
				}
				queue <- chunk{due: due, err: err}
				return
			}
		}
	}()
	defer at.close()
	for c := range queue {
		sleepUntil(c.due)
		if c.err != nil {
			endWrite(dst, c.err)
			break
		}
		arrived := time.Now() // before the write: the client may answer at once
		if _, err := dst.Write(c.data); err != nil {
			// The receiver is gone: stop the sender too.
			_ = src.Close()
			_ = dst.Close()
			break
		}
		if !sentSide {
			at.feed(c.data, arrived)
		}
	}
	for range queue { // let the reader finish
	}
}

// endWrite passes the end of one direction on: a clean end as a half
// close (FIN), anything else (a reset) as an abortive close (RST).
func endWrite(dst net.Conn, err error) {
	tc, ok := dst.(*net.TCPConn)
	switch {
	case ok && errors.Is(err, io.EOF):
		_ = tc.CloseWrite()
	case ok:
		_ = tc.SetLinger(0)
		_ = tc.Close()
	default:
		_ = dst.Close()
	}
}

func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

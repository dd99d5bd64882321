package wanproxy

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// The timing checks below are the proxy's own and deliberately loose: a
// lower bound (the proxy must never deliver early or faster than the cap,
// which holds however loaded the machine is) and a generous upper bound
// (it must not be wildly slower). Nothing outside this package asserts
// timings.

// echoServer answers every connection by sending back what it reads.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func startProxy(t *testing.T, l *Link, upstream string) *Proxy {
	t.Helper()
	p, err := l.Start("test", upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// roundTrip sends data through the proxy to the echo server and returns
// what came back.
func roundTrip(t *testing.T, addr string, data []byte) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer c.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Error(err)
	}
	if err := <-errc; err != nil {
		t.Error(err)
	}
	return got
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestBytesExactAndInOrder: whatever the link, every byte arrives, once,
// in order, on every one of several connections at once.
func TestBytesExactAndInOrder(t *testing.T) {
	upstream := echoServer(t)
	for _, tc := range []struct {
		name string
		link *Link
	}{
		{"no delay", NewLink(0, 0, 0)},
		{"delay", NewLink(10*time.Millisecond, 0, 0)},
		{"delay and cap", NewLink(10*time.Millisecond, 400, 0)},
		{"delay, cap and window", NewLink(10*time.Millisecond, 400, 256<<10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, tc.link, upstream)
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					data := randomBytes(700<<10+i*1234, uint64(i+1))
					got := roundTrip(t, p.Addr(), data)
					if !bytes.Equal(got, data) {
						t.Errorf("connection %d: %d bytes back (sha256 %x), want %d (sha256 %x)", i, len(got), sha256.Sum256(got), len(data), sha256.Sum256(data))
					}
				}()
			}
			wg.Wait()
		})
	}
}

// TestDelay: a reply on an open connection takes at least one round trip,
// and the first one on a new connection at least two (the handshake).
func TestDelay(t *testing.T) {
	rtt := 60 * time.Millisecond
	p := startProxy(t, NewLink(rtt, 0, 0), echoServer(t))
	start := time.Now()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1)
	exchange := func() time.Duration {
		t0 := time.Now()
		if _, err := c.Write([]byte{'x'}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		return time.Since(t0)
	}
	exchange()
	if first := time.Since(start); first < 2*rtt || first > 2*rtt+2*time.Second {
		t.Errorf("first reply on a new connection after %v, want about 2 x %v", first, rtt)
	}
	for range 3 {
		if d := exchange(); d < rtt || d > rtt+2*time.Second {
			t.Errorf("a reply on an open connection after %v, want about %v", d, rtt)
		}
	}
}

// sink accepts connections and reads them to the end, counting bytes.
func sink(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
				_, _ = c.Write([]byte{'.'}) // the end, after every byte arrived
			}()
		}
	}()
	return ln.Addr().String()
}

// send writes n bytes through addr and waits for the sink's receipt.
func send(t *testing.T, addr string, n int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	if _, err := c.Write(make([]byte, n)); err != nil {
		t.Error(err)
		return
	}
	_ = c.(*net.TCPConn).CloseWrite()
	if _, err := io.ReadAll(c); err != nil {
		t.Error(err)
	}
}

// TestBandwidthShared: two connections at once share the cap: together
// they take at least as long as their bytes at the link's rate.
func TestBandwidthShared(t *testing.T) {
	const mbit = 40.0 // 5 MB/s
	const each = 1 << 20
	p := startProxy(t, NewLink(0, mbit, 0), sink(t))
	start := time.Now()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); send(t, p.Addr(), each) }()
	}
	wg.Wait()
	took := time.Since(start)
	want := time.Duration(float64(2*each) / (mbit * 1e6 / 8) * float64(time.Second))
	// The bucket's burst lets a little through early.
	if took < want*8/10 || took > want*5 {
		t.Errorf("2 x %d bytes at %v Mbit/s took %v, want about %v", each, mbit, took, want)
	}
}

// TestWindow: one connection with a window moves at most a window per
// round trip.
func TestWindow(t *testing.T) {
	rtt := 50 * time.Millisecond
	const win = 64 << 10
	const n = 640 << 10 // ten windows
	p := startProxy(t, NewLink(rtt, 0, win), sink(t))
	start := time.Now()
	send(t, p.Addr(), n)
	took := time.Since(start)
	want := rtt * (n / win) // a window per round trip
	if took < want*8/10 || took > want*5+2*time.Second {
		t.Errorf("%d bytes with a %d-byte window over %v took %v, want about %v", n, win, rtt, took, want)
	}
}

func TestCloseCutsConnections(t *testing.T) {
	l := NewLink(0, 0, 0)
	p, err := l.Start("test", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return with a connection open")
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Error("the connection stayed open after Close")
		}
	}
}

func TestParseLink(t *testing.T) {
	for _, tc := range []struct {
		in     string
		rtt    time.Duration
		mbit   float64
		window int64
		err    bool
	}{
		{in: "150ms,200", rtt: 150 * time.Millisecond, mbit: 200},
		{in: "20ms, 1000, 4MiB", rtt: 20 * time.Millisecond, mbit: 1000, window: 4 << 20},
		{in: "1s,0.5,65536", rtt: time.Second, mbit: 0.5, window: 65536},
		{in: "150ms", err: true},
		{in: "fast,200", err: true},
		{in: "150ms,-1", err: true},
		{in: "150ms,200,lots", err: true},
		{in: "150ms,200,1MiB,x", err: true},
	} {
		l, err := ParseLink(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("ParseLink(%q) accepted", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLink(%q): %v", tc.in, err)
			continue
		}
		if l.RTT() != tc.rtt || l.Mbit() != tc.mbit || l.Window() != tc.window {
			t.Errorf("ParseLink(%q) = %v, %v, %v", tc.in, l.RTT(), l.Mbit(), l.Window())
		}
	}
}

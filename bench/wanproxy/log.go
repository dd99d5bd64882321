package wanproxy

import (
	"bufio"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Exchange is one HTTP request and its response as they crossed a proxy.
type Exchange struct {
	Proxy     string // the proxy's name, "source" or "target"
	Conn      int64  // the connection, numbered from 1 per proxy
	Method    string
	Path      string // without the query
	Query     string
	UserAgent string
	Status    int
	Location  string    // the response's Location header (upload sessions)
	Start     time.Time // the request's first byte left the client
	End       time.Time // the response's last byte reached the client
}

// Log records the exchanges that crossed a proxy, in the order their
// responses ended. It reads a copy of the bytes; it never changes or
// slows down what it reads (beyond the copy).
type Log struct {
	name string
	mu   sync.Mutex
	done []Exchange
}

// Len is how many exchanges have ended so far: a mark for Since.
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.done)
}

// Since returns the exchanges that ended after mark (a Len), in the order
// they started.
func (l *Log) Since(mark int) []Exchange {
	l.mu.Lock()
	out := append([]Exchange(nil), l.done[min(mark, len(l.done)):]...)
	l.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

func (l *Log) add(e Exchange) {
	l.mu.Lock()
	l.done = append(l.done, e)
	l.mu.Unlock()
}

// sniffer reads the HTTP/1.1 exchanges of one connection: the requests
// as the client sends them, the responses as they arrive at the client.
// A connection that is not HTTP/1.1 is simply not logged.
type sniffer struct {
	log               *Log
	conn              int64
	request, response *stream
	pending           chan *Exchange // requests awaiting their response, in order
	dead              chan struct{}  // closed when either side gives up
	deadOnce          sync.Once
}

func (l *Log) sniff(conn int64) *sniffer {
	s := &sniffer{log: l, conn: conn, pending: make(chan *Exchange, 256), dead: make(chan struct{})}
	s.request, s.response = newStream(s.dead), newStream(s.dead)
	go s.readRequests()
	go s.readResponses()
	return s
}

func (s *sniffer) kill() { s.deadOnce.Do(func() { close(s.dead) }) }

func (s *sniffer) readRequests() {
	defer close(s.pending)
	br := bufio.NewReaderSize(s.request, 64<<10)
	for {
		start := s.request.pos() - int64(br.Buffered())
		req, err := http.ReadRequest(br)
		if err != nil {
			if err != io.EOF {
				s.kill()
			}
			return
		}
		e := &Exchange{Proxy: s.log.name, Conn: s.conn, Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery,
			UserAgent: req.UserAgent(), Start: s.request.timeAt(start)}
		select {
		case s.pending <- e:
		case <-s.dead:
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			s.kill()
			return
		}
	}
}

func (s *sniffer) readResponses() {
	br := bufio.NewReaderSize(s.response, 64<<10)
	for e := range s.pending {
		for {
			resp, err := http.ReadResponse(br, &http.Request{Method: e.Method})
			if err != nil {
				s.kill()
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil {
				s.kill()
				return
			}
			if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
				continue // 100 Continue: the final answer follows
			}
			end := s.response.pos() - int64(br.Buffered())
			e.Status, e.Location, e.End = resp.StatusCode, resp.Header.Get("Location"), s.response.timeAt(end-1)
			s.log.add(*e)
			break
		}
	}
}

// stream is one direction of a connection as the sniffer reads it: the
// chunks the pump fed, each with its time, so that a byte offset can be
// turned into the time that byte passed.
type stream struct {
	ch   chan timed
	dead <-chan struct{}

	cur   []byte
	fed   int64  // bytes taken from ch so far
	marks []mark // chunks taken, oldest first, pruned as offsets pass them
}

type timed struct {
	data []byte
	at   time.Time
}

type mark struct {
	end int64 // offset just past the chunk
	at  time.Time
}

func newStream(dead <-chan struct{}) *stream {
	return &stream{ch: make(chan timed, 1024), dead: dead}
}

// feed hands the sniffer a chunk (which it must not modify) and its time.
func (s *stream) feed(b []byte, at time.Time) {
	select {
	case s.ch <- timed{data: b, at: at}:
	case <-s.dead:
	}
}

// close says that no more chunks come.
func (s *stream) close() { close(s.ch) }

func (s *stream) Read(p []byte) (int, error) {
	if len(s.cur) == 0 {
		c, ok := <-s.ch
		if !ok {
			return 0, io.EOF
		}
		s.cur = c.data
		s.fed += int64(len(c.data))
		s.marks = append(s.marks, mark{end: s.fed, at: c.at})
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

// pos is the offset of the next byte Read will return.
func (s *stream) pos() int64 { return s.fed - int64(len(s.cur)) }

// timeAt is the time of the chunk that holds byte off; chunks wholly
// before off are forgotten, so offsets must not go back.
func (s *stream) timeAt(off int64) time.Time {
	for len(s.marks) > 1 && s.marks[0].end <= off {
		s.marks = s.marks[1:]
	}
	if len(s.marks) == 0 {
		return time.Now()
	}
	return s.marks[0].at
}

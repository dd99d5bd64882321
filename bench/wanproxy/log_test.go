package wanproxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// registryish answers like a registry would, enough to exercise the log:
// bodies with a length, chunked bodies, HEAD, uploads with a body, and a
// Location.
func registryish(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch {
		case r.Method == http.MethodPost:
			w.Header().Set("Location", "/v2/a/blobs/uploads/u1?_state=x")
			w.WriteHeader(http.StatusAccepted)
		case r.Method == http.MethodPut:
			w.WriteHeader(http.StatusCreated)
		case strings.HasSuffix(r.URL.Path, "/chunked"):
			w.WriteHeader(http.StatusOK)
			for i := range 3 {
				fmt.Fprintf(w, "part %d\n", i)
				w.(http.Flusher).Flush()
			}
		case strings.HasSuffix(r.URL.Path, "/missing"):
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Length", "5")
			if r.Method != http.MethodHead {
				_, _ = w.Write([]byte("hello"))
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLogReadsExchanges(t *testing.T) {
	srv := registryish(t)
	p := startProxy(t, NewLink(5*time.Millisecond, 0, 0), strings.TrimPrefix(srv.URL, "http://"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	base := "http://" + p.Addr()
	type call struct {
		method, path string
		body         []byte
		status       int
	}
	calls := []call{
		{http.MethodGet, "/v2/", nil, 200},
		{http.MethodHead, "/v2/a/manifests/1", nil, 200},
		{http.MethodGet, "/v2/a/blobs/chunked", nil, 200},
		{http.MethodPost, "/v2/a/blobs/uploads/", nil, 202},
		{http.MethodPut, "/v2/a/blobs/uploads/u1", bytes.Repeat([]byte("z"), 300<<10), 201},
		{http.MethodGet, "/v2/a/manifests/missing", nil, 404},
	}
	for _, c := range calls {
		req, err := http.NewRequest(c.method, base+c.path+"?q=1", bytes.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", "logtest")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("%s %s: %d", c.method, c.path, resp.StatusCode)
		}
	}
	var got []Exchange
	for range 100 { // the log lags the client by a chunk's delivery at most
		if got = p.Log().Since(0); len(got) == len(calls) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(got) != len(calls) {
		t.Fatalf("logged %d exchanges, want %d: %+v", len(got), len(calls), got)
	}
	for i, e := range got {
		c := calls[i]
		if e.Method != c.method || e.Path != c.path || e.Status != c.status || e.Query != "q=1" || e.UserAgent != "logtest" || e.Proxy != "test" {
			t.Errorf("exchange %d = %+v, want %s %s -> %d", i, e, c.method, c.path, c.status)
		}
		if e.End.Before(e.Start) {
			t.Errorf("exchange %d ends before it starts: %+v", i, e)
		}
		if e.Conn != 1 {
			t.Errorf("exchange %d on connection %d, want all on the one kept alive", i, e.Conn)
		}
	}
	if got[3].Location != "/v2/a/blobs/uploads/u1?_state=x" {
		t.Errorf("POST's Location = %q", got[3].Location)
	}
	// One after the other: a chain as long as the calls.
	if n := LongestChain(got); n != len(calls) {
		t.Errorf("LongestChain of %d requests in a row = %d", len(calls), n)
	}
	if mark := p.Log().Len(); len(p.Log().Since(mark)) != 0 {
		t.Error("Since(Len()) is not empty")
	}
}

// TestLogConcurrent: requests sent at once on separate connections are
// all logged, and form a chain of one.
func TestLogConcurrent(t *testing.T) {
	srv := registryish(t)
	p := startProxy(t, NewLink(40*time.Millisecond, 0, 0), strings.TrimPrefix(srv.URL, "http://"))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			<-start
			resp, err := (&http.Client{Transport: tr}).Get(fmt.Sprintf("http://%s/v2/a/manifests/%d", p.Addr(), i))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	close(start)
	wg.Wait()
	var got []Exchange
	for range 100 {
		if got = p.Log().Since(0); len(got) == 6 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(got) != 6 {
		t.Fatalf("logged %d exchanges, want 6", len(got))
	}
	if n := LongestChain(got); n != 1 {
		t.Errorf("LongestChain of 6 requests at once = %d, want 1", n)
	}
}

// TestLogIgnoresOtherProtocols: bytes that are not HTTP pass unchanged
// and are not logged.
func TestLogIgnoresOtherProtocols(t *testing.T) {
	p := startProxy(t, NewLink(0, 0, 0), echoServer(t))
	data := randomBytes(100<<10, 7)
	if got := roundTrip(t, p.Addr(), data); !bytes.Equal(got, data) {
		t.Error("bytes changed")
	}
	if n := p.Log().Len(); n != 0 {
		t.Errorf("logged %d exchanges of a non-HTTP stream", n)
	}
}

func TestLongestChain(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	ex := func(start, end int) Exchange { return Exchange{Start: at(start), End: at(end)} }
	for _, tc := range []struct {
		name string
		in   []Exchange
		want int
	}{
		{"none", nil, 0},
		{"one", []Exchange{ex(0, 10)}, 1},
		{"in a row", []Exchange{ex(0, 10), ex(10, 20), ex(25, 30)}, 3},
		{"overlapping", []Exchange{ex(0, 10), ex(5, 15), ex(9, 20)}, 1},
		{"two branches, the longer counts", []Exchange{ex(0, 10), ex(11, 50), ex(11, 20), ex(21, 30), ex(31, 40)}, 4},
		{"unsorted input", []Exchange{ex(31, 40), ex(0, 10), ex(21, 30), ex(11, 20)}, 4},
	} {
		if got := LongestChain(tc.in); got != tc.want {
			t.Errorf("%s: LongestChain = %d, want %d", tc.name, got, tc.want)
		}
	}
}

package registry

import (
	"bytes"
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
type pingCache struct {
	next http.RoundTripper
	mu   sync.Mutex
	resp map[string]*cachedPing   // by host
	busy map[string]chan struct{} // hosts being pinged, closed when done
}

type cachedPing struct {
	scheme string
	status int
	header http.Header
	body   []byte
}

func newPingCache(next http.RoundTripper) *pingCache {
	return &pingCache{next: next, resp: map[string]*cachedPing{}, busy: map[string]chan struct{}{}}
}

// RoundTrip implements http.RoundTripper.
func (p *pingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.Path != "/v2/" {
		return p.next.RoundTrip(req)
	}
	key := req.URL.Host
	// Concurrent first pings of one host wait for the first one's answer,
	// so that a plan sends one ping per host, not one per request slot.
	var c *cachedPing
	ok := false
	for {
		p.mu.Lock()
		c, ok = p.resp[key]
		wait, busy := p.busy[key]
		if !ok && !busy {
			p.busy[key] = make(chan struct{})
		}
		p.mu.Unlock()
		if ok || !busy {
			break
		}
		select {
		case <-wait:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	if !ok {
		defer func() {
			p.mu.Lock()
			close(p.busy[key])
			delete(p.busy, key)
			p.mu.Unlock()
		}()
	}
	if ok {
		if c.scheme != req.URL.Scheme {
			// go-containerregistry pings an insecure host over https and
			// http at once; the host already told us which one it speaks.
			return nil, fmt.Errorf("%s speaks %s, not %s", key, c.scheme, req.URL.Scheme)
		}
		return c.response(req), nil
	}
	resp, err := p.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	// Only the answers that describe the registry are cached; anything
	// else (a 5xx that outlived the retries) is passed on and asked again.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c = &cachedPing{scheme: req.URL.Scheme, status: resp.StatusCode, header: resp.Header.Clone(), body: body}
	p.mu.Lock()
	p.resp[key] = c
	p.mu.Unlock()
	return c.response(req), nil
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

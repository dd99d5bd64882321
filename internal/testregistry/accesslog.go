package testregistry

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Request is one request the registry served, as its access log tells it.
type Request struct {
	Method string
	Path   string // URL path without the query, e.g. "/v2/library/nginx/manifests/1.27"
	Query  string // raw query, e.g. "_state=...&digest=sha256%3A..." on the PUT that ends a blob upload
	Status int
	Bytes  int64 // response body bytes written (also counted for HEAD)
	// UserAgent is the client's, "go-containerregistry" for ggcr's remote.
	UserAgent string
}

// Requests returns the requests the registry has served so far, oldest
// first, leaving out Start's readiness probes so that counts are the
// client's alone. docker-registry writes a request's line when its handler
// returns, before a small response leaves the server's buffers, so in
// practice every request whose response a client has read is included.
// After Close the log is gone and Requests fails.
func (s *Server) Requests() ([]Request, error) {
	if s.inproc != nil {
		return withoutProbes(s.inproc.rec.snapshot()), nil
	}
	f, err := os.Open(s.proc.logPath)
	if err != nil {
		return nil, fmt.Errorf("reading registry access log: %w", err)
	}
	defer f.Close()
	reqs, err := ParseAccessLog(f)
	if err != nil {
		return nil, err
	}
	return withoutProbes(reqs), nil
}

func withoutProbes(reqs []Request) []Request {
	out := reqs[:0:0]
	for _, r := range reqs {
		if r.UserAgent != probeUserAgent {
			out = append(out, r)
		}
	}
	return out
}

// accessLine matches the combined log format that distribution's access log
// (gorilla/handlers) writes to stdout:
//
//	127.0.0.1 - - [27/Nov/2026:17:05:23 +0000] "PUT /v2/library/nginx/manifests/v1 HTTP/1.1" 201 0 "" "go-containerregistry"
//
// The registry's other log lines (logrus, key=value) do not match. Quotes
// inside the quoted fields are backslash-escaped.
var accessLine = regexp.MustCompile(`^\S+ \S+ \S+ \[[^\]]+\] "(\S+) (\S+) [^"]*" (\d{3}) (\d+|-) "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"`)

// ParseAccessLog extracts the access log lines from a docker-registry log,
// skipping every other line.
func ParseAccessLog(r io.Reader) ([]Request, error) {
	var reqs []Request
	sc := bufio.NewScanner(r)
	// logrus lines carry every request header field; allow long ones.
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		m := accessLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		req, err := newRequest(m[1], m[2], m[3], m[4])
		req.UserAgent = unescape(m[5])
		if err != nil {
			return nil, fmt.Errorf("parsing access log line %q: %w", sc.Text(), err)
		}
		reqs = append(reqs, req)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading access log: %w", err)
	}
	return reqs, nil
}

func newRequest(method, uri, status, size string) (Request, error) {
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return Request{}, fmt.Errorf("request URI: %w", err)
	}
	code, err := strconv.Atoi(status)
	if err != nil {
		return Request{}, fmt.Errorf("status: %w", err)
	}
	var n int64
	if size != "-" {
		if n, err = strconv.ParseInt(size, 10, 64); err != nil {
			return Request{}, fmt.Errorf("size: %w", err)
		}
	}
	return Request{Method: method, Path: u.Path, Query: u.RawQuery, Status: code, Bytes: n}, nil
}

// unescape undoes the backslash escaping of quoted log fields.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Kind is which part of the registry API a request addressed.
type Kind int

// Kinds of registry API requests.
const (
	KindOther      Kind = iota // anything not below
	KindPing                   // /v2/
	KindCatalog                // /v2/_catalog
	KindTags                   // /v2/NAME/tags/list
	KindManifest               // /v2/NAME/manifests/REFERENCE
	KindBlob                   // /v2/NAME/blobs/DIGEST
	KindBlobUpload             // /v2/NAME/blobs/uploads/[UUID]
	KindReferrers              // /v2/NAME/referrers/DIGEST
)

// String names the kind for test failure messages.
func (k Kind) String() string {
	names := [...]string{"other", "ping", "catalog", "tags", "manifest", "blob", "blob-upload", "referrers"}
	if k < 0 || int(k) >= len(names) {
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
	return names[k]
}

// Endpoint classifies the request path: its kind, the repository it
// names, and the last path element (tag or digest for manifests, digest
// for blobs, session id for uploads), so that tests count e.g. manifest
// PUTs to one repository without path regexes of their own.
func (r Request) Endpoint() (kind Kind, repo, ref string) {
	p, ok := strings.CutPrefix(r.Path, "/v2/")
	switch {
	case !ok:
		return KindOther, "", ""
	case p == "":
		return KindPing, "", ""
	case p == "_catalog":
		return KindCatalog, "", ""
	}
	if repo, ok := strings.CutSuffix(p, "/tags/list"); ok {
		return KindTags, repo, ""
	}
	// The reference is always the last path element and the API's word
	// comes right before it; looking only there keeps repositories named
	// "blobs" or "manifests" from confusing the classification.
	slash := strings.LastIndexByte(p, '/')
	if slash < 0 {
		return KindOther, "", ""
	}
	head, ref := p[:slash], p[slash+1:]
	suffixes := []struct {
		suffix string
		kind   Kind
	}{{"/blobs/uploads", KindBlobUpload}, {"/manifests", KindManifest}, {"/blobs", KindBlob}, {"/referrers", KindReferrers}}
	for _, sk := range suffixes {
		repo, ok := strings.CutSuffix(head, sk.suffix)
		if !ok || repo == "" || (ref == "" && sk.kind != KindBlobUpload) {
			continue
		}
		return sk.kind, repo, ref
	}
	return KindOther, "", ""
}

// Count is how many requests have the method ("" for any) and kind.
func Count(reqs []Request, method string, kind Kind) int {
	n := 0
	for _, r := range reqs {
		if k, _, _ := r.Endpoint(); k == kind && (method == "" || r.Method == method) {
			n++
		}
	}
	return n
}

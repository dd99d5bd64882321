package faultproxy

import (
	"bytes"
	"net/http"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"
)

// Fault is what a Rule does to a request it matches.
type Fault int

const (
	// Status answers Rule.Code (429, 500, 502, 503...) without asking the
	// registry, with Retry-After: Rule.RetryAfter when set.
	Status Fault = iota + 1
	// Reset forwards the request and resets the connection (TCP RST) after
	// Rule.AfterBytes bytes of the response body.
	Reset
	// ResetUpload reads Rule.AfterBytes bytes of the request body, passing
	// them on to the registry, then breaks both connections (RST to the
	// client): an upload cut off in the middle.
	ResetUpload
	// Stall holds the request without an answer until the client gives
	// up (or the proxy closes, or Rule.Delay passes when set).
	Stall
	// StallBody forwards the request, sends the headers and Rule.AfterBytes
	// bytes of the body, then sends nothing more until the client gives up.
	StallBody
	// Truncate forwards the request, sends the headers (with the full
	// Content-Length) and Rule.AfterBytes bytes of the body, then closes
	// the connection cleanly: the body ends early.
	Truncate
	// Corrupt forwards the request and flips one byte of the response body
	// (at Rule.AfterBytes, or the last byte of a shorter body): same
	// length, other digest.
	Corrupt
	// Replace answers with Rule.Body and Rule.Header (status Rule.Code, 200
	// by default) without asking the registry; a HEAD gets the headers and
	// the Content-Length of Rule.Body.
	Replace
	// Redirect answers 307 with a Location naming the request's own URL: a
	// redirect loop.
	Redirect
	// Delay forwards the request after Rule.Delay.
	Delay
	// Hook forwards the request unchanged; only Rule.OnInject runs.
	Hook
)

var faultNames = map[Fault]string{
	Status: "status", Reset: "reset", ResetUpload: "reset-upload", Stall: "stall",
	StallBody: "stall-body", Truncate: "truncate", Corrupt: "corrupt", Replace: "replace",
	Redirect: "redirect", Delay: "delay", Hook: "hook",
}

// String names the fault in logs and tables.
func (f Fault) String() string {
	if s, ok := faultNames[f]; ok {
		return s
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// Request paths of the registry API, for Rule.Path.
var (
	// Manifests matches manifest requests: /v2/<name>/manifests/<ref>.
	Manifests = regexp.MustCompile(`^/v2/.+/manifests/[^/]+$`)
	// Blobs matches blob requests (not uploads): /v2/<name>/blobs/<digest>.
	Blobs = regexp.MustCompile(`^/v2/.+/blobs/[a-z0-9]+:[a-f0-9]+$`)
	// Uploads matches the requests of an upload session:
	// /v2/<name>/blobs/uploads/[<uuid>].
	Uploads = regexp.MustCompile(`^/v2/.+/blobs/uploads/[^/]*$`)
	// Any matches every request.
	Any = regexp.MustCompile(``)
)

// Rule says which requests get which fault, and how often.
type Rule struct {
	// Name labels the rule in the injection log; Fault's name when empty.
	Name string
	// Method matches the request method; "" matches any.
	Method string
	// Path must match the request path (without the query); nil matches any.
	Path *regexp.Regexp
	// Match, when set, must also accept the request.
	Match func(*http.Request) bool
	// Skip lets the first Skip matching requests through untouched.
	Skip int
	// Times is how many matching requests (after Skip) get the fault;
	// 0 means every one.
	Times int

	Fault      Fault
	Code       int           // Status, Replace
	RetryAfter string        // Status: the Retry-After value, "" for none
	AfterBytes int64         // Reset, ResetUpload, StallBody, Truncate, Corrupt
	Body       []byte        // Replace
	Header     http.Header   // Replace
	Delay      time.Duration // Delay; Stall: an upper bound (0: until the client leaves)
	// OnInject runs (synchronously, before the fault) each time the rule
	// fires, for example to kill the registry behind the proxy.
	OnInject func(*http.Request)

	matched  atomic.Int64
	injected atomic.Int64
}

// Injected is how many times the rule fired.
func (r *Rule) Injected() int { return int(r.injected.Load()) }

// name is how the rule appears in the injection log.
func (r *Rule) name() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Fault.String()
}

// take reports whether the rule fires for req, counting it.
func (r *Rule) take(req *http.Request) bool {
	if r.Method != "" && r.Method != req.Method {
		return false
	}
	if r.Path != nil && !r.Path.MatchString(req.URL.Path) {
		return false
	}
	if r.Match != nil && !r.Match(req) {
		return false
	}
	n := r.matched.Add(1)
	if n <= int64(r.Skip) {
		return false
	}
	if r.Times > 0 && n > int64(r.Skip+r.Times) {
		return false
	}
	r.injected.Add(1)
	return true
}

// Injection is one fault the proxy injected.
type Injection struct {
	Rule   string
	Fault  Fault
	Method string
	Path   string
	At     time.Time
}

// ManifestHeader is a Replace rule's Header for a manifest: its media type
// and, when digest is not empty, the Docker-Content-Digest to claim.
func ManifestHeader(mediaType, digest string) http.Header {
	h := http.Header{"Content-Type": {mediaType}}
	if digest != "" {
		h.Set("Docker-Content-Digest", digest)
	}
	return h
}

// Big returns n bytes of JSON-looking filler, for a Replace rule serving an
// oversized manifest.
func Big(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"x":"`)
	for b.Len() < n-3 {
		b.WriteByte('a')
	}
	b.WriteString(`"}}`)
	return b.Bytes()
}

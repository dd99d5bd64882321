// Retries of registry requests live in one layer, this one: an
// http.RoundTripper under go-containerregistry (ggcr) that retries
// transient failures (429, 5xx gateway/overload answers, connection
// resets, refusals, EOF before a response, timeouts) with capped
// exponential backoff and jitter, and applies one rule to Retry-After
// on every host, source or target: wait as told up to MaxWait; told to wait
// longer, fail the request with a *WaitTooLongError at once, so that the
// caller stops cleanly rather than hammer the registry or hang for hours.
//
// ggcr wraps any transport it is given in its own retry transport (and
// retries whole blob uploads on top of it), so retries would multiply
// (ours x ggcr's) unless ggcr's are switched off; ggcrNoRetry returns the
// remote options that do that. They must go with every remote.Option set
// that carries a NewRetryTransport (pullers and pushers alike).

package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RetryPolicy says which failures are retried and how long to wait.
// The zero value is usable: every zero field takes its default.
type RetryPolicy struct {
	Attempts int           // total tries including the first; default 6
	Base     time.Duration // first backoff; default 200ms
	Max      time.Duration // cap of one backoff wait (without Retry-After); default 30s
	// MaxWait is the longest Retry-After honoured, default DefaultMaxWait
	// (5 minutes): a registry asking for a longer pause fails the request
	// with a *WaitTooLongError, without another try.
	MaxWait time.Duration
	// Sleep waits d or until ctx ends; tests replace it to run instantly and record waits. Default: a timer with ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry is called before each wait (for logs and counters); may be
	// nil. attempt is the 1-based number of the try that just failed;
	// reason is short and of low cardinality ("503 Service Unavailable",
	// "connection reset", "timeout", ...) so it can label a counter.
	OnRetry func(req *http.Request, attempt int, wait time.Duration, reason string)
}

// AttemptsHeader is set on a response whose retryable status (429, 5xx)
// outlived the retries, to the number of tries made, so that the error
// reported can say so. Servers do not send it; this layer adds it.
const AttemptsHeader = "Imagesync-Attempts"

// Defaults of RetryPolicy.
const (
	defaultRetryAttempts = 6
	defaultRetryBase     = 200 * time.Millisecond
	defaultRetryMax      = 30 * time.Second
	// DefaultMaxWait is the longest Retry-After waited for by default
	// (imagesync's --max-wait).
	DefaultMaxWait = 5 * time.Minute
	// retryDrainLimit bounds how much of a failed response's body is read
	// before closing it: enough for a registry's JSON error, so the
	// connection goes back to the pool, but not a large body we would
	// rather drop (closing an unread body just costs a new connection).
	retryDrainLimit = 64 << 10
)

// withDefaults fills the zero fields of p.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = defaultRetryAttempts
	}
	if p.Base <= 0 {
		p.Base = defaultRetryBase
	}
	if p.Max <= 0 {
		p.Max = defaultRetryMax
	}
	if p.MaxWait <= 0 {
		p.MaxWait = DefaultMaxWait
	}
	if p.Sleep == nil {
		p.Sleep = retrySleep
	}
	return p
}

// NewRetryTransport wraps next so that 429, 500, 502, 503, 504, connection
// resets / refused / EOF before a response, timeouts, and a manifest PUT
// refused for a blob the registry does not find (see manifestBlobUnknown)
// are retried with exponential backoff and equal jitter (wait = ceil/2 +
// rand[0, ceil/2], ceil = min(Max, Base*2^n)), a bounded number of times, then the last
// response or error is returned. A Retry-After (delta-seconds or
// HTTP-date) replaces the backoff: the wait is what it says when that is
// at most MaxWait; beyond, the request is not tried again and fails with a
// *WaitTooLongError naming the request, the status and the wait asked for.
//
// Other 4xx answers (401, 403, 404, ...) are returned at once: they are
// answers, not faults. A request whose body cannot be replayed (Body set,
// GetBody nil) is tried once. Once the request's context is done no
// further try is made; note that http.Client.Timeout puts its deadline on
// that context, so a Client.Timeout outside this transport bounds all
// tries together, while per-try limits belong in next (for example
// http.Transport.ResponseHeaderTimeout). When the tries run out on a
// status, the last response is returned unread, so ggcr can parse the
// registry's error body; errors name the method, host, path (never the
// query, which may hold tokens) and the number of tries. next nil means
// http.DefaultTransport.
func NewRetryTransport(next http.RoundTripper, p RetryPolicy) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &retryTransport{next: next, p: p.withDefaults()}
}

// retryTransport is the http.RoundTripper NewRetryTransport returns.
type retryTransport struct {
	next http.RoundTripper
	p    RetryPolicy
}

// RoundTrip implements http.RoundTripper.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	try := req              // the first try may consume req's own body; later ones get copies
	budget := budgetOf(ctx) // WithBudget: a longer one for some steps
	for attempt := 1; ; attempt++ {
		resp, err := t.next.RoundTrip(try)
		reason := retryReason(resp, err)
		if reason == "" && err == nil && manifestBlobUnknown(req, resp) {
			reason = "manifest blob unknown"
		}
		if reason == "" || !replayable || attempt >= t.p.tries(budget) || ctx.Err() != nil {
			if reason != "" && resp != nil && attempt > 1 {
				// The fault outlived the retries: say how often it was tried.
				resp.Header.Set(AttemptsHeader, strconv.Itoa(attempt))
			}
			return retryFinish(req, attempt, resp, err)
		}
		wait, tooLong := t.backoff(resp, t.p.backoffStep(budget, attempt))
		if tooLong {
			// The server asks for a longer pause than we allow: trying
			// again earlier would only be refused, so the caller stops.
			retryDrain(resp)
			return nil, &WaitTooLongError{Method: req.Method, Host: req.URL.Host, Path: req.URL.EscapedPath(),
				Status: resp.Status, Wait: wait, MaxWait: t.p.MaxWait, Until: time.Now().Add(wait)}
		}
		retryDrain(resp)
		if t.p.OnRetry != nil {
			t.p.OnRetry(req, attempt, wait, reason)
		}
		if err := t.p.Sleep(ctx, wait); err != nil {
			return nil, newAttemptsError(req, attempt, err)
		}
		if err := ctx.Err(); err != nil { // a Sleep that ignores ctx
			return nil, newAttemptsError(req, attempt, err)
		}
		if try, err = retryReplay(req); err != nil {
			return nil, newAttemptsError(req, attempt, fmt.Errorf("replay request body: %w", err))
		}
	}
}

// retryFinish returns the outcome of the last try: a response as is, an error
// wrapped so that it names the request and the number of tries, and the
// context's error if the caller gave up meanwhile.
func retryFinish(req *http.Request, attempts int, resp *http.Response, err error) (*http.Response, error) {
	if err == nil {
		return resp, nil
	}
	if cerr := req.Context().Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%w)", cerr, err)
	}
	return nil, newAttemptsError(req, attempts, err)
}

// retryReplay copies req for another try, with a fresh body when it has one.
func retryReplay(req *http.Request) (*http.Request, error) {
	try := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		try.Body = body
	}
	return try, nil
}

// retryReason says why a try is worth repeating, "" if it is not: only
// overload and gateway answers and network faults before a response are.
func retryReason(resp *http.Response, err error) string {
	if err != nil {
		return retryErrReason(err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return resp.Status
	}
	return ""
}

// manifestBlobUnknown reports whether resp refuses a manifest PUT because
// the registry does not find one of its blobs (400 MANIFEST_BLOB_UNKNOWN),
// which is a fault, not an answer, when another client pushes the same
// blob into the same repository at that moment: distribution's filesystem
// storage rewrites a repository's blob link files in place (truncate, then
// write), and a manifest check reading one in between finds no blob. Two
// "imagesync apply" at once against one target hit it. A blob that is
// really missing is refused again on every try, and the last answer is
// returned as it came. resp's body is read (a registry error is small)
// and put back for the caller.
func manifestBlobUnknown(req *http.Request, resp *http.Response) bool {
	if req.Method != http.MethodPut || resp.StatusCode != http.StatusBadRequest || !strings.Contains(req.URL.Path, "/manifests/") || resp.Body == nil {
		return false
	}
	peek, _ := io.ReadAll(io.LimitReader(resp.Body, retryDrainLimit))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(peek), resp.Body), resp.Body}
	return bytes.Contains(peek, []byte(`"MANIFEST_BLOB_UNKNOWN"`))
}

// Transient reports whether err is a failure of a kind this layer retries
// (a 429 or 5xx answer, a reset or refused connection, a timeout) that
// outlived its tries: the registry may be back in a moment, so that a
// caller may go on another way (upload a blob whose mount failed, open a
// download again on a fresh stream); a step that needs more tries asks
// for them with WithBudget rather than run this layer again. A wait longer
// than allowed (*WaitTooLongError) and a context that ended are not
// transient: the caller stops.
func Transient(err error) bool {
	var wait *WaitTooLongError
	var status *StatusError
	switch {
	case err == nil, errors.As(err, &wait), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ErrLimit), errors.Is(err, ErrDigestMismatch):
		return false
	case errors.As(err, &status):
		return true
	}
	return retryErrReason(err) != ""
}

// retryErrReason names the transient network failure err is, "" if it is none
// (TLS, DNS "no such host", a malformed URL... are not worth repeating).
func retryErrReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNABORTED):
		return "connection aborted"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before response"
	}
	// net.Error covers dial, TLS handshake and response-header timeouts
	// of http.Transport, and *url.Error of an http.Client inside next.
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return ""
}

// backoff returns how long to wait after a try failed with resp (nil on a
// network error), step the exponent of the backoff (the try's number
// less one, see backoffStep), and true when that is the server's
// Retry-After and it exceeds MaxWait.
func (t *retryTransport) backoff(resp *http.Response, step int) (time.Duration, bool) {
	if resp != nil {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			// The server knows when it will take us back: waiting less
			// would be refused again, waiting more is wasted.
			return d, d > t.p.MaxWait
		}
	}
	return jitter(t.p.Base, t.p.Max, step), false
}

// jitter returns a uniform wait in [ceil/2, ceil], ceil = min(max,
// base*2^n) ("equal jitter"). The random half spreads the retries of many
// clients hit by the same outage, so they do not come back in lockstep;
// the fixed half makes the tries last: with the default policy they span
// at least 3.1 s (0.1 + 0.2 + 0.4 + 0.8 + 1.6), so that a registry that
// restarts (a second or two) is waited out instead of failing the image.
func jitter(base, limit time.Duration, n int) time.Duration {
	ceil := min(base, limit)
	for i := 0; i < n && ceil < limit; i++ {
		if ceil > limit/2 { // doubling would pass the cap (or overflow)
			ceil = limit
			break
		}
		ceil *= 2
	}
	if ceil <= 0 {
		return 0
	}
	half := ceil / 2
	return half + time.Duration(rand.Int64N(int64(ceil-half)+1))
}

// parseRetryAfter reads a Retry-After value, delta-seconds or HTTP-date
// (RFC 9110 10.2.3), as a wait from now; false if absent or malformed.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(time.Duration(1<<63-1)/time.Second) {
			return time.Duration(1<<63 - 1), true
		}
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// retryDrain reads a little of a failed response's body and closes it, so the
// connection can carry the next try.
func retryDrain(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, retryDrainLimit)
	_ = resp.Body.Close()
}

// retrySleep waits d, or until ctx ends and then returns its error.
func retrySleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// attemptsError is a failed request after its tries: it names the
// method, host and path (not the query nor headers, which may carry
// tokens) and how many tries were made.
type attemptsError struct {
	method   string
	where    string // host + path
	attempts int
	err      error
}

// newAttemptsError describes req failing with err after attempts tries.
func newAttemptsError(req *http.Request, attempts int, err error) *attemptsError {
	// An *url.Error (from an http.Client inside next) prints the full URL,
	// query included: keep only what it wraps.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &attemptsError{method: req.Method, where: req.URL.Host + req.URL.EscapedPath(), attempts: attempts, err: err}
}

// Error implements error.
func (e *attemptsError) Error() string {
	tries := "attempts"
	if e.attempts == 1 {
		tries = "attempt"
	}
	return fmt.Sprintf("%s %s: %v after %d %s", e.method, e.where, e.err, e.attempts, tries)
}

// Unwrap lets errors.Is/As see the cause (syscall errors, context errors).
func (e *attemptsError) Unwrap() error { return e.err }

// Timeout keeps the net.Error meaning of the cause, which http.Client's
// *url.Error reports through its own Timeout method.
func (e *attemptsError) Timeout() bool {
	var ne interface{ Timeout() bool }
	return errors.As(e.err, &ne) && ne.Timeout()
}

// ggcrNoRetry returns the remote options that turn off go-containerregistry's
// own retries, so that NewRetryTransport is the only retry layer. In ggcr
// v0.22.1, remote.makeOptions wraps every transport except a
// *transport.Wrapper (which would also skip auth, so it is no way out) in
// transport.NewRetry(backoff, predicate, status codes), and remote.Write
// retries whole blob uploads with the same backoff and predicate:
//   - WithRetryBackoff(Steps: 1): wait.ExponentialBackoff runs the
//     condition once and stops; this alone ends both loops. (Steps 0 would
//     not run the request at all and make RoundTrip return nil, nil.)
//   - WithRetryPredicate(never): no error, status-made or network, is
//     deemed retryable; this alone ends both loops too. (A nil predicate
//     means ggcr's default, so it has to be a function.)
//   - WithRetryStatusCodes() with no codes: ggcr no longer turns 5xx/429
//     into errors, which it did by reading the body into memory first.
//
// Each is enough for the request count; together they hold if one of them
// changes meaning in a later ggcr. A side effect: a blob upload whose body
// is a stream cannot be replayed by us, so it is no longer retried at all.
func ggcrNoRetry() []remote.Option {
	return []remote.Option{
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
	}
}

// WaitTooLongError is a registry asking, with Retry-After, for a pause
// longer than the client waits (RetryPolicy.MaxWait, imagesync's
// --max-wait). The request was not tried again. It names the request
// (never its query) and when the registry takes requests again, so that a
// run can stop cleanly and say when to run again.
type WaitTooLongError struct {
	Method  string
	Host    string // the registry host that asked
	Path    string
	Status  string        // its answer, "429 Too Many Requests"
	Wait    time.Duration // what Retry-After asked for
	MaxWait time.Duration // the longest wait allowed
	Until   time.Time     // when the wait asked for ends
}

// Error implements error.
func (e *WaitTooLongError) Error() string {
	return fmt.Sprintf("%s %s%s: %s, Retry-After %s: longer than the %s imagesync waits (--max-wait)",
		e.Method, e.Host, e.Path, e.Status, e.Wait, e.MaxWait)
}

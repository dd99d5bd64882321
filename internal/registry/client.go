// Package registry talks to container registries: it turns an image
// reference into the endpoints that serve it (mirrors first, as configured
// in images.hcl), with the right TLS settings and credentials, and bounds
// how many requests run against one host at a time.
package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
)

// Client reaches the registries an images.hcl names. It is safe for
// concurrent use.
type Client struct {
	cfg    *config.Config
	opts   options
	mu     sync.Mutex
	hosts  map[string]*host // by endpoint host, created on first use
	logger *slog.Logger
}

// host is the per-endpoint-host state: its HTTP transport (TLS, retries,
// the cached ping), its authenticated transports by repository and scope,
// its bounds on requests and on blob transfers, and its round trip, which
// sizes those bounds.
type host struct {
	sem       *limiter // requests in flight (resolution, plan)
	transfers *limiter // blob transfers in flight (apply)
	base      http.RoundTripper
	pings     *pingCache // base's ping answers
	latency   *latency
	resumes   int // how often one blob download may be resumed
	// warm dials connections ahead for requests to the host (nil when the
	// transport is not ours to dial for).
	warm *connWarmer

	mu   sync.Mutex
	auth map[repoKey]authTransport
}

type options struct {
	keychain  authn.Keychain
	jobs      int
	transfers int
	userAgent string
	logger    *slog.Logger
	transport http.RoundTripper
	retry     RetryPolicy
	maxWait   time.Duration
	stall     time.Duration
	minRate   int64
}

// Option configures a Client.
type Option func(*options)

// WithKeychain sets where credentials come from; the default is
// DefaultKeychain (podman's and skopeo's auth files, then
// ~/.docker/config.json, DOCKER_CONFIG and credential helpers, as docker
// uses them).
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

// WithJobsPerHost bounds the requests in flight to one registry host; the
// default is 16, times 4 for a host whose round trip is FarRoundTrip or
// more. Values below 1 mean 1.
func WithJobsPerHost(n int) Option {
	return func(o *options) { o.jobs = max(n, 1) }
}

// WithTransfersPerHost bounds the blob transfers (uploads, mounts) in
// flight to one registry host; the default is 8, times 4 for a host whose
// round trip is FarRoundTrip or more. Values below 1 mean 1.
func WithTransfersPerHost(n int) Option {
	return func(o *options) { o.transfers = max(n, 1) }
}

// WithRetryPolicy sets how failed requests are retried; the default is
// RetryPolicy's zero value (6 tries, 200ms base, 30s cap).
func WithRetryPolicy(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithMaxWait sets the longest Retry-After the client waits for, on every
// host; a registry asking for a longer pause fails the request with a
// *WaitTooLongError. The default is the retry policy's MaxWait, else
// DefaultMaxWait (5 minutes); 0 or less keeps the default.
func WithMaxWait(d time.Duration) Option { return func(o *options) { o.maxWait = d } }

// WithStallTimeout sets how long a request may make no progress (no byte
// sent or received) before it is abandoned as a timeout; the default is
// $IMAGESYNC_STALL_TIMEOUT, else DefaultStallTimeout. 0 or less turns the
// guard off.
func WithStallTimeout(d time.Duration) Option { return func(o *options) { o.stall = d } }

// WithMinThroughput sets the least a body must move while it moves, in
// bytes per second averaged over each stall timeout, before the request
// is abandoned with a *SlowError; the default is DefaultMinThroughput
// (1 KiB/s). 0 or less turns the rule off.
func WithMinThroughput(bytesPerSecond int64) Option {
	return func(o *options) { o.minRate = max(bytesPerSecond, 0) }
}

// WithUserAgent sets the User-Agent prefix; the default is "imagesync".
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// WithLogger sets where debug logs go; the default discards them.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithBaseTransport replaces the HTTP transport under TLS settings, for
// tests; the default is a clone of http.DefaultTransport.
func WithBaseTransport(t http.RoundTripper) Option { return func(o *options) { o.transport = t } }

// New returns a Client for the registries of cfg.
func New(cfg *config.Config, opts ...Option) *Client {
	o := options{keychain: DefaultKeychain(), jobs: 16, transfers: 8, userAgent: "imagesync", stall: stallTimeoutFromEnv(),
		minRate: DefaultMinThroughput}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return &Client{cfg: cfg, opts: o, hosts: map[string]*host{}, logger: o.logger}
}

// Endpoint is one place a repository can be read from.
type Endpoint struct {
	// Repo is the repository on that endpoint, e.g. 127.0.0.1:5101/library/nginx.
	Repo name.Repository
	// Mirror is the mirror URL as configured, "" for the registry itself.
	Mirror string
	// settings for TLS of this endpoint
	insecure bool
	caFile   string
	// block is the registry block of images.hcl that configures this
	// endpoint (the upstream's host for a mirror), for messages.
	block string
}

// String names the endpoint in messages.
func (e Endpoint) String() string {
	if e.Mirror != "" {
		return "mirror " + e.Mirror
	}
	return e.Repo.RegistryStr()
}

// Endpoints lists where ref's repository is read from, in order: the
// configured mirrors of its registry, then the registry itself.
func (c *Client) Endpoints(ref imageref.Ref) ([]Endpoint, error) {
	reg := c.cfg.Registry(ref.Domain())
	var eps []Endpoint
	for _, m := range reg.Mirrors {
		repo, err := name.NewRepository(m.Host+"/"+path.Join(m.Prefix, ref.Path()), nameOpts(m.Insecure)...)
		if err != nil {
			return nil, fmt.Errorf("mirror %s for %s: %w", m.URL, ref, err)
		}
		eps = append(eps, Endpoint{Repo: repo, Mirror: m.URL, insecure: m.Insecure, caFile: reg.CAFile, block: ref.Domain()})
	}
	repo, err := c.repository(ref.Repository(), reg.Insecure)
	if err != nil {
		return nil, err
	}
	return append(eps, Endpoint{Repo: repo, insecure: reg.Insecure, caFile: reg.CAFile, block: ref.Domain()}), nil
}

// TargetRepository returns the endpoint of a target reference (no
// mirrors: the target is written to and read from directly).
func (c *Client) TargetRepository(ref imageref.Ref) (Endpoint, error) {
	reg := c.cfg.Registry(ref.Domain())
	repo, err := c.repository(ref.Repository(), reg.Insecure)
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{Repo: repo, insecure: reg.Insecure, caFile: reg.CAFile, block: ref.Domain()}, nil
}

func (c *Client) repository(repo string, insecure bool) (name.Repository, error) {
	r, err := name.NewRepository(repo, nameOpts(insecure)...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("repository %s: %w", repo, err)
	}
	return r, nil
}

// nameOpts marks insecure endpoints; loopback hosts are plain HTTP without
// it, as in docker (go-containerregistry's name package does that).
func nameOpts(insecure bool) []name.Option {
	if insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// host returns the state of an endpoint's host, creating it on first use.
func (c *Client) host(ep Endpoint) (*host, error) {
	key := ep.Repo.RegistryStr()
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.hosts[key]; ok {
		return h, nil
	}
	tr, warm, err := c.transport(ep)
	if err != nil {
		return nil, err
	}
	retry := c.opts.retry
	if c.opts.maxWait > 0 {
		retry.MaxWait = c.opts.maxWait
	}
	if retry.OnRetry == nil {
		retry.OnRetry = func(req *http.Request, attempt int, wait time.Duration, reason string) {
			c.logger.Debug("retrying", "method", req.Method, "host", req.URL.Host, "path", req.URL.Path,
				"attempt", attempt, "wait", wait, "reason", reason)
		}
	}
	h := &host{
		sem:       newLimiter(c.opts.jobs),
		transfers: newLimiter(c.opts.transfers),
		auth:      map[repoKey]authTransport{},
		// A download is resumed as often as a request is tried again.
		resumes: retry.withDefaults().Attempts - 1,
	}
	h.warm = warm
	h.latency = &latency{onChange: c.sizeToLink(ep, h, warm)}
	// From the top: the rule on where credentials go, the ping answered
	// from memory, debug logs of every request, the User-Agent, the one
	// retry layer, and under it, per try, the round-trip probe and the
	// stall guard (with the minimum throughput).
	tr = &latencyProbe{next: &stallGuard{next: tr, idle: c.opts.stall, minRate: c.opts.minRate}, l: h.latency}
	logged := &requestLog{next: transport.NewUserAgent(NewRetryTransport(tr, retry), c.opts.userAgent), logger: c.logger}
	pc := newPingCache(logged)
	pc.plainToo, pc.warm = ep.Repo.Scheme() == "http", warm
	h.base, h.pings = newCredentialGuard(pc, ep.Repo.Scheme(), ep.Repo.RegistryStr()), pc
	c.hosts[key] = h
	return h, nil
}

// sizeToLink returns what a host does when its measured round trip
// changes: a far host gets farFactor times the requests and transfers in
// flight, and, the first time, connections dialled ahead for the
// transfers to come (each would otherwise wait a round trip, two with
// TLS, for its handshake when the copy starts).
func (c *Client) sizeToLink(ep Endpoint, h *host, warm *connWarmer) func(time.Duration) {
	var warmOnce sync.Once
	return func(rtt time.Duration) {
		factor := 1
		if rtt >= FarRoundTrip {
			factor = farFactor
			warmOnce.Do(func() {
				if req, err := http.NewRequest(http.MethodGet, ep.Repo.Scheme()+"://"+ep.Repo.RegistryStr()+"/v2/", nil); err == nil {
					warm.warmUpTo(req, c.opts.transfers)
				}
			})
		}
		h.sem.setLimit(c.opts.jobs * factor)
		h.transfers.setLimit(c.opts.transfers * factor)
	}
}

// RoundTrip is the round trip to ep's host as measured so far (the
// quickest answer to a request without a body), 0 before any answer. A
// host at FarRoundTrip or more gets more requests and transfers in flight;
// callers may size their own concurrency the same way.
func (c *Client) RoundTrip(ep Endpoint) time.Duration {
	c.mu.Lock()
	h, ok := c.hosts[ep.Repo.RegistryStr()]
	c.mu.Unlock()
	if !ok {
		return 0
	}
	return h.latency.roundTrip()
}

// transport is the HTTP transport of ep's host, and the function that
// dials a connection ahead for a request about to be sent (nil when the
// transport is not ours to dial for).
func (c *Client) transport(ep Endpoint) (http.RoundTripper, *connWarmer, error) {
	if c.opts.transport != nil {
		return c.opts.transport, nil, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	wd := newWarmDialer(c.opts.jobs * farFactor)
	tr.DialContext = wd.DialContext
	// Connections are kept for every request and transfer a far host may
	// have in flight, so that none is closed only to be dialled (a round
	// trip, two with TLS) again a moment later.
	tr.MaxIdleConnsPerHost = (c.opts.jobs + c.opts.transfers) * farFactor
	// And no more than twice that are open at once, whatever fans out
	// above (the children of a large index and their blobs, each a
	// request or two before a transfer slot bounds it): a request beyond
	// waits for a connection rather than exhaust the process's files.
	tr.MaxConnsPerHost = 2 * tr.MaxIdleConnsPerHost
	// A registry that accepts a request and never answers must not hang a
	// run: the retry layer above treats the timeout as a transient fault.
	// (The stall guard above covers bodies too; this is the same bound
	// where http.Transport can apply it itself.)
	tr.ResponseHeaderTimeout = DefaultStallTimeout
	if c.opts.stall > 0 {
		tr.ResponseHeaderTimeout = c.opts.stall
	}
	// tr.Proxy stays http.ProxyFromEnvironment: HTTPS_PROXY, HTTP_PROXY
	// and NO_PROXY are honoured (loopback hosts are never proxied).
	if ep.insecure || ep.caFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if ep.insecure {
			tc.InsecureSkipVerify = true //nolint:gosec // the user asked for it with insecure = true
		}
		if ep.caFile != "" {
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			pem, err := os.ReadFile(ep.caFile)
			if err != nil {
				return nil, nil, fmt.Errorf("read ca_file of registry %q for %s: %w", ep.block, ep.Repo.RegistryStr(), err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("ca_file %s for %s holds no PEM certificate", ep.caFile, ep.Repo.RegistryStr())
			}
			tc.RootCAs = pool
		}
		tr.TLSClientConfig = tc
	}
	return tr, &connWarmer{dialer: wd, proxy: tr.Proxy}, nil
}

// connWarmer dials connections ahead for requests about to be sent to a
// host, unless they go through a proxy (the connection to dial is then
// the proxy's). Its methods do nothing on a nil connWarmer.
type connWarmer struct {
	dialer *warmDialer
	proxy  func(*http.Request) (*url.URL, error)
}

func (w *connWarmer) direct(req *http.Request) bool {
	if w == nil {
		return false
	}
	proxy, err := w.proxy(req)
	return proxy == nil && err == nil
}

// warm dials one more connection for req's host.
func (w *connWarmer) warm(req *http.Request) {
	if w.direct(req) {
		w.dialer.warm(req.URL)
	}
}

// warmUpTo makes sure n connections to req's host are ready or dialling.
func (w *connWarmer) warmUpTo(req *http.Request, n int) {
	if w.direct(req) {
		w.dialer.warmUpTo(req.URL, n)
	}
}

// acquire waits for a request slot on h, or for ctx to end.
func (h *host) acquire(ctx context.Context) error { return h.sem.acquire(ctx) }

func (h *host) release() { h.sem.release() }

// Package apply copies locked images to the target registry: by digest,
// never by tag, with the exact manifest bytes, children before their index,
// blobs before their manifest and the tag last, so that the target never
// holds a tag whose manifest lacks its blobs. Blobs already in the target
// are skipped, blobs in another repository of the target are mounted, and a
// blob shared by images copied in parallel is uploaded once.
package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/registry"
)

// Progress receives what the engine does, for display. Implementations
// must be safe for concurrent use; the engine never prints.
type Progress interface {
	// Started is called when an image's copy begins.
	Started(c diff.Change)
	// Sized is called once the image's manifests are read, with the total
	// bytes of its blobs.
	Sized(c diff.Change, total int64)
	// Advanced reports n more bytes done (uploaded, or found in place).
	Advanced(c diff.Change, n int64)
	// Finished is called when the image is done, failed or not.
	Finished(r Result)
}

// Result is what happened to one image.
type Result struct {
	Change        diff.Change
	BytesUploaded int64
	BlobsUploaded int
	BlobsMounted  int
	BlobsSkipped  int
	Duration      time.Duration
	Err           error
	// ReferrersCopied counts the referrers copied with the image;
	// ReferrerFailures are those that failed while the image landed.
	ReferrersCopied  int
	ReferrerFailures []ReferrerFailure
}

// Engine copies images. Create one per run: it remembers which blobs the
// target registry holds, to mount rather than upload them.
type Engine struct {
	client *registry.Client
	opts   options
	blobs  *blobTracker

	// The images already in the target are read once, on the first blob
	// the target repository lacks, so that a run that has something to
	// upload first looks for it in the target's other repositories.
	knownOnce sync.Once
}

// Known is an image the target registry already holds at its locked
// digest (an unchanged image of the plan): its blobs can be mounted.
type Known struct {
	Target imageref.Ref
	Digest digest.Digest
}

type options struct {
	parallelism      int
	buildParallelism int
	progress         Progress
	logger           *slog.Logger
	blobRetries      int
	buildOutput      io.Writer
	known            []Known
	shardWait        time.Duration
}

// Option configures an Engine.
type Option func(*options)

// WithParallelism sets how many images are copied at once; the default is
// 4. Values below 1 mean 1. Blob transfers are bounded per registry host
// by the registry client as well.
func WithParallelism(n int) Option { return func(o *options) { o.parallelism = max(n, 1) } }

// WithBuildParallelism sets how many builds run at once; the default is 2,
// as builds are heavy. Values below 1 mean 1.
func WithBuildParallelism(n int) Option { return func(o *options) { o.buildParallelism = max(n, 1) } }

// WithBuildOutput sets where the builders' output goes, each line prefixed
// with the service name; the default (and nil) discards it.
func WithBuildOutput(w io.Writer) Option {
	return func(o *options) {
		if w != nil {
			o.buildOutput = w
		}
	}
}

// WithKnownImages tells the engine which images the target already holds,
// so that their blobs are mounted into other repositories rather than
// uploaded again: a re-run after a partial apply then sends nothing twice.
func WithKnownImages(k []Known) Option { return func(o *options) { o.known = k } }

// WithProgress sets the progress receiver; the default (and nil) discards
// progress.
func WithProgress(p Progress) Option {
	return func(o *options) {
		if p != nil {
			o.progress = p
		}
	}
}

// WithLogger sets the logger for debug messages; the default discards them.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithBlobRetries sets how many times a blob transfer that broke off in the
// middle (which the request-level retries cannot replay, as the body is a
// stream) is started again; the default is 2.
func WithBlobRetries(n int) Option { return func(o *options) { o.blobRetries = max(n, 0) } }

// New returns an Engine that talks to registries through client.
func New(client *registry.Client, opts ...Option) *Engine {
	o := options{parallelism: 4, buildParallelism: 2, progress: nopProgress{}, logger: slog.New(slog.DiscardHandler),
		blobRetries: 2, buildOutput: io.Discard, shardWait: DefaultShardWait}
	for _, opt := range opts {
		opt(&o)
	}
	return &Engine{client: client, opts: o, blobs: newBlobTracker()}
}

// ErrNotStarted is wrapped by the result of an image the engine did not
// start because a registry told it to wait longer than it may (a
// *registry.WaitTooLongError, which the result also wraps).
var ErrNotStarted = errors.New("not started")

// Apply copies every create and update change and returns one result per
// change, in the order given. A failed image does not stop the others,
// except for a registry that asks, with Retry-After, for a longer pause
// than the client waits: then the images in flight finish (or fail), no
// other starts, and their results wrap ErrNotStarted, so that the run
// stops cleanly instead of hammering the registry. Images that go to the
// same target repository are copied one after the other: the distribution
// registry can corrupt a repository's links when two pushes into it
// overlap.
func (e *Engine) Apply(ctx context.Context, changes []diff.Change) []Result {
	results := make([]Result, len(changes))
	groups := map[string][]int{}
	var order []string
	for i, c := range changes {
		repo := c.Target.Repository()
		if _, ok := groups[repo]; !ok {
			order = append(order, repo)
		}
		groups[repo] = append(groups[repo], i)
	}
	sort.Strings(order)
	var g errgroup.Group
	g.SetLimit(e.opts.parallelism)
	var stop atomic.Pointer[registry.WaitTooLongError]
	for _, repo := range order {
		g.Go(func() error {
			for _, i := range groups[repo] {
				if why := stop.Load(); why != nil {
					results[i] = Result{Change: changes[i], Err: fmt.Errorf("%w: %w", ErrNotStarted, why)}
					continue
				}
				results[i] = e.copyImage(ctx, changes[i])
				var wait *registry.WaitTooLongError
				if errors.As(results[i].Err, &wait) {
					stop.CompareAndSwap(nil, wait)
				}
			}
			return nil
		})
	}
	_ = g.Wait() // copyImage reports failures in its Result
	return results
}

// copyImage copies one image and checks that its target then resolves to
// the locked digest.
func (e *Engine) copyImage(ctx context.Context, c diff.Change) Result {
	start := time.Now()
	e.opts.progress.Started(c)
	st := &stats{}
	err := e.copy(ctx, c, st)
	r := Result{Change: c, BytesUploaded: st.bytes.Load(), BlobsUploaded: int(st.uploaded.Load()),
		BlobsMounted: int(st.mounted.Load()), BlobsSkipped: int(st.skipped.Load()), Duration: time.Since(start), Err: err,
		ReferrersCopied: st.referrers.copied, ReferrerFailures: st.referrers.failures}
	e.opts.progress.Finished(r)
	return r
}

func (e *Engine) copy(ctx context.Context, c diff.Change, st *stats) error {
	job, err := e.prepare(ctx, c, st)
	if err != nil {
		return err
	}
	if c.Action == diff.Referrers { // supply hook: the image is in place, only referrers are missing
		job.copyReferrers(ctx)
		return nil
	}
	m, err := job.read(ctx)
	if err != nil {
		return err
	}
	e.opts.progress.Sized(c, m.DistributableSize())
	if err := job.copyManifest(ctx, m, job.targetRef); err != nil {
		return job.explainSparse(err) // supply hook (platforms.go)
	}
	head, err := job.dst.HeadManifest(ctx, job.targetRef)
	if err != nil {
		return fmt.Errorf("check %s after the copy: %w", c.Target, err)
	}
	if head.Digest != c.TargetDigest() {
		return fmt.Errorf("check %s after the copy: it resolves to %s, not the locked %s", c.Target, head.Digest, c.TargetDigest())
	}
	job.copyReferrers(ctx) // supply hook (referrers.go): failures are recorded, the image has landed
	return nil
}

type nopProgress struct{}

func (nopProgress) Started(diff.Change)         {}
func (nopProgress) Sized(diff.Change, int64)    {}
func (nopProgress) Advanced(diff.Change, int64) {}
func (nopProgress) Finished(Result)             {}

// stats counts one image's blob work.
type stats struct {
	bytes                      atomicInt
	uploaded, mounted, skipped atomicInt
	referrers                  referrerStats
}

// blobTracker remembers, per target registry host and digest, which
// repositories hold a blob, and serializes the work on one blob so that a
// blob shared by images copied in parallel is uploaded once.
type blobTracker struct {
	mu    sync.Mutex
	where map[string]map[string]bool // host|digest -> repositories
	locks map[string]*sync.Mutex     // host|digest -> held while working on it
}

func newBlobTracker() *blobTracker {
	return &blobTracker{where: map[string]map[string]bool{}, locks: map[string]*sync.Mutex{}}
}

func blobKey(host string, d digest.Digest) string { return host + "|" + d.String() }

// lock serializes the work on one blob of one target registry.
func (t *blobTracker) lock(key string) func() {
	t.mu.Lock()
	l, ok := t.locks[key]
	if !ok {
		l = &sync.Mutex{}
		t.locks[key] = l
	}
	t.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (t *blobTracker) record(key, repo string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.where[key] == nil {
		t.where[key] = map[string]bool{}
	}
	t.where[key][repo] = true
}

// lookup reports whether repo holds the blob, else another repository
// known to hold it ("" if none).
func (t *blobTracker) lookup(key, repo string) (here bool, other string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	repos := t.where[key]
	if repos[repo] {
		return true, ""
	}
	var names []string
	for r := range repos {
		names = append(names, r)
	}
	sort.Strings(names)
	if len(names) > 0 {
		return false, names[0]
	}
	return false, ""
}

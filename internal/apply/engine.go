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

// Engine copies images. It holds only what it was configured with: what
// one Apply learns lives in a run of its own, so that Apply may be called
// again, or at once from several goroutines, on one Engine.
type Engine struct {
	client *registry.Client
	opts   options
}

// run is what one Apply learns and holds: which repositories of the
// target hold which blobs, what each target host shows of mounts, the
// upload sessions it has open. A later Apply starts afresh, as the target
// may have changed in between.
type run struct {
	*Engine
	blobs    *blobTracker
	mounts   mountState
	sessions sessions // upload sessions open on the targets

	// The images already in the target are read once (learnKnown), so
	// that a blob no repository of the run is known to hold is mounted
	// from the target's other repositories if one has it rather than
	// uploaded again; when, shouldLearn says.
	knownOnce sync.Once
	creates   bool // the run creates images, other than aliases
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

// WithParallelism sets how many images are copied at once. The default
// (and any value below 1) is sized to the link: 4, or 16 when the target
// registry is far away (its round trip, as the plan's requests measured
// it, is registry.FarRoundTrip or more), where an image spends most of
// its time waiting for answers. Blob transfers are bounded per registry
// host by the registry client as well.
func WithParallelism(n int) Option { return func(o *options) { o.parallelism = n } }

// Default image parallelism, near and far (see WithParallelism).
const (
	nearParallelism = 4
	farParallelism  = 16
)

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

// WithKnownImages tells the engine which images the target already holds
// (the plan's unchanged images). An image to copy whose digest the plan
// saw under another tag of the same repository is only tagged (see
// copyAlias); and a blob that no repository of the run is known to hold
// is looked for in them before it is uploaded (see shouldLearn), so that
// a re-run after a partial apply sends nothing twice.
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
	o := options{buildParallelism: 2, progress: nopProgress{}, logger: slog.New(slog.DiscardHandler),
		blobRetries: 2, buildOutput: io.Discard, shardWait: DefaultShardWait}
	for _, opt := range opts {
		opt(&o)
	}
	return &Engine{client: client, opts: o}
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
// overlap. Upload sessions left open (a transfer broke off, or ctx ended:
// the run was interrupted) are ended with DELETE before Apply returns.
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
	r := &run{Engine: e, blobs: newBlobTracker()}
	for _, c := range changes {
		r.creates = r.creates || (c.Action == diff.Create && !e.aliasOf(c))
	}
	var learning sync.WaitGroup
	defer learning.Wait()
	if r.shouldLearn(0) {
		learning.Go(func() { r.learnKnown(ctx) })
	}
	var g errgroup.Group
	g.SetLimit(e.parallelism(changes))
	var stop atomic.Pointer[registry.WaitTooLongError]
	for _, repo := range order {
		g.Go(func() error {
			r.copyRepository(ctx, changes, groups[repo], results, &stop)
			return nil
		})
	}
	_ = g.Wait() // copyImage reports failures in its Result
	r.sessions.cancelAll(ctx, e.opts.logger)
	return results
}

// copyRepository copies the images of one target repository one after the
// other. The next image's manifests are read from the source while the
// one before is pushed, so that its blobs can start as soon as the
// repository is free; reading writes nothing.
func (e *run) copyRepository(ctx context.Context, changes []diff.Change, idx []int, results []Result, stop *atomic.Pointer[registry.WaitTooLongError]) {
	var next *reading
	for k, i := range idx {
		cur := next
		next = nil
		if why := stop.Load(); why != nil {
			if cur != nil {
				cur.cancel() // read ahead before the stop: not to be pushed
			}
			results[i] = Result{Change: changes[i], Err: fmt.Errorf("%w: %w", ErrNotStarted, why)}
			continue
		}
		if cur == nil {
			cur = e.startReading(ctx, changes[i])
		}
		if k+1 < len(idx) {
			next = e.startReading(ctx, changes[idx[k+1]])
		}
		results[i] = e.copyImage(ctx, changes[i], cur)
		cur.cancel()
		var wait *registry.WaitTooLongError
		if errors.As(results[i].Err, &wait) {
			stop.CompareAndSwap(nil, wait)
		}
	}
}

// parallelism is how many images are copied at once (WithParallelism).
func (e *Engine) parallelism(changes []diff.Change) int {
	if e.opts.parallelism > 0 {
		return e.opts.parallelism
	}
	if len(changes) > 0 {
		if ep, err := e.client.TargetRepository(changes[0].Target); err == nil && e.client.RoundTrip(ep) >= registry.FarRoundTrip {
			return farParallelism
		}
	}
	return nearParallelism
}

// copyImage copies one image and checks that its target then resolves to
// the locked digest.
func (e *run) copyImage(ctx context.Context, c diff.Change, r *reading) Result {
	start := time.Now()
	e.opts.progress.Started(c)
	st := &stats{}
	err := e.copy(ctx, c, st, r)
	res := Result{Change: c, BytesUploaded: st.bytes.Load(), BlobsUploaded: int(st.uploaded.Load()),
		BlobsMounted: int(st.mounted.Load()), BlobsSkipped: int(st.skipped.Load()), Duration: time.Since(start), Err: err,
		ReferrersCopied: st.referrers.copied, ReferrerFailures: st.referrers.failures}
	e.opts.progress.Finished(res)
	return res
}

func (e *run) copy(ctx context.Context, c diff.Change, st *stats, r *reading) error {
	if done, err := e.copyAlias(ctx, c, st); done {
		return err
	}
	j, m, err := r.wait(ctx)
	if err != nil {
		return err
	}
	j.st = st
	if c.Action == diff.Referrers { // mirror scope hook: the image is in place, only referrers are missing
		j.copyReferrers(ctx)
		return nil
	}
	e.opts.progress.Sized(c, m.DistributableSize())
	stored, err := j.pushTree(ctx, m, j.targetRef)
	if err != nil {
		return j.explainSparse(err) // mirror scope hook (platforms.go)
	}
	if err := j.check(ctx, stored); err != nil {
		return err
	}
	j.copyReferrers(ctx) // mirror scope hook (referrers.go): failures are recorded, the image has landed
	return nil
}

// check makes sure the target reference resolves to the locked digest
// (the filtered index's, where the lock keeps some platforms only) after
// the push: the registry's answer to the tag's PUT says what it stored
// there (PushManifest refuses another digest); a registry that does not
// say is asked.
func (j *job) check(ctx context.Context, stored digest.Digest) error {
	want := j.c.TargetDigest()
	if stored == want {
		return nil
	}
	head, err := j.dst.HeadManifest(ctx, j.targetRef)
	if err != nil {
		return fmt.Errorf("check %s after the copy: %w", j.c.Target, err)
	}
	if head.Digest != want {
		return fmt.Errorf("check %s after the copy: it resolves to %s, not the locked %s", j.c.Target, head.Digest, want)
	}
	return nil
}

// reading is the source side of one image's copy, under way or done:
// the source chosen, the target opened, the manifest tree read.
type reading struct {
	once    sync.Once
	run     func()
	cancel  context.CancelFunc
	done    chan struct{}
	j       *job
	m       *registry.Manifest
	present map[digest.Digest]bool // see job.present
	err     error
}

// startReading starts reading an image's source side in the background,
// unless the image is only to be tagged (copyAlias): its source is read,
// if at all, when the copy waits for it.
func (e *run) startReading(ctx context.Context, c diff.Change) *reading {
	r := &reading{done: make(chan struct{})}
	ctx, r.cancel = context.WithCancel(ctx)
	r.run = func() {
		defer close(r.done)
		var g errgroup.Group
		g.Go(func() error { r.present = e.readPresent(ctx, c); return nil })
		// A referrers-only change copies no image: its tree is not read.
		if r.j, r.err = e.prepare(ctx, c); r.err == nil && c.Action != diff.Referrers {
			r.m, r.err = r.j.read(ctx)
		}
		_ = g.Wait()
		if r.j != nil {
			r.j.present = r.present
		}
	}
	if !e.aliasOf(c) {
		go r.start()
	}
	return r
}

func (r *reading) start() { r.once.Do(r.run) }

// readPresent lists the blobs of the image an update replaces, as the
// plan saw it under the tag (its current digest), read by digest from the
// target repository now, alongside the source. Nothing is taken for
// granted from it (every blob is still asked for, see likelyAbsent): a
// plan older than the target only costs a download or a round trip. nil
// for an image new to its tag, or one that cannot be read.
func (e *Engine) readPresent(ctx context.Context, c diff.Change) map[digest.Digest]bool {
	if c.Action != diff.Update || c.CurrentDigest == "" {
		return nil
	}
	_, blobs, err := e.targetBlobs(ctx, c.Target, c.CurrentDigest)
	if err != nil {
		e.opts.logger.Debug("the image the plan saw under the tag is not readable now", "target", c.Target, "digest", c.CurrentDigest.String(), "err", err)
		return nil
	}
	present := map[digest.Digest]bool{}
	for _, d := range blobs {
		present[d] = true
	}
	return present
}

// wait returns what was read, reading it now if that has not started.
func (r *reading) wait(ctx context.Context) (*job, *registry.Manifest, error) {
	go r.start()
	select {
	case <-r.done:
		return r.j, r.m, r.err
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
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

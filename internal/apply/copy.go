package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/registry"
)

type atomicInt = atomic.Int64

// The primitives of a copy, which other parts of the engine build on
// (copying referrers and filtering platforms among them); each keeps its
// promise whatever the others did before:
//
//   - job.copyManifest copies one manifest tree by digest: the blobs of an
//     image manifest (or, for an index, its children, each after its own
//     blobs) are made present first, then the manifest is PUT, exact bytes,
//     under the given tag or digest.
//   - job.ensureBlob makes one blob present in the target repository:
//     found there, mounted from another repository of the target registry,
//     or streamed from the source.
//   - job.upload streams one blob from the source into the target
//     repository, digest-checked on the way, with the refetches and
//     restarts that absorb faults.
//
// A job is one image: where it is read from and written to.
type job struct {
	e         *Engine
	c         diff.Change
	st        *stats
	src, dst  *registry.Repo
	srcEps    []registry.Endpoint // where the image may be read, in order
	srcAt     int                 // the index of src's endpoint in srcEps
	dstEp     registry.Endpoint
	digest    digest.Digest
	targetRef string // the tag, or the digest of a digest-only target
	root      []byte // the top manifest, read while choosing the source
	rootType  string
	// present lists the blobs of the image the plan saw under the tag (an
	// update), read from the target: where not to expect an upload.
	present map[digest.Digest]bool
	// children are the children of the image's graph copied so far.
	children onceEach
}

// prepare picks the source endpoint (mirrors first) that serves the locked
// digest and opens the target repository for pushing. It writes nothing.
func (e *Engine) prepare(ctx context.Context, c diff.Change) (*job, error) {
	src, dst, d := c.Source, c.Target, c.Digest
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("locked digest of %s: %w", src, err)
	}
	j := &job{e: e, c: c, digest: d, targetRef: dst.Tag()}
	if dst.Tag() == "" {
		j.targetRef = c.TargetDigest().String()
	}
	var err error
	if j.srcEps, err = e.client.Endpoints(src); err != nil {
		return nil, err
	}
	var errs []string
	for i, ep := range j.srcEps {
		repo, err := e.client.Repo(ctx, ep, registry.PullOnly)
		if err == nil {
			j.root, j.rootType, err = repo.GetManifest(ctx, d)
		}
		if err == nil {
			j.src, j.srcAt = repo, i
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var wait *registry.WaitTooLongError
		if errors.As(err, &wait) {
			// Told to wait: the run stops, rather than ask the next
			// endpoint (the upstream behind a mirror) for the same pulls.
			return nil, fmt.Errorf("read %s@%s from %s: %w", src.Repository(), d, ep, err)
		}
		errs = append(errs, fmt.Sprintf("%s: %v", ep, err))
	}
	if j.src == nil {
		return nil, fmt.Errorf("read %s@%s: %s", src.Repository(), d, strings.Join(errs, "; "))
	}
	if j.dstEp, err = e.client.TargetRepository(dst); err != nil {
		return nil, err
	}
	if j.dst, err = e.client.Repo(ctx, j.dstEp, registry.PushAccess); err != nil {
		return nil, err
	}
	return j, nil
}

// read reads the image's manifest tree from the source: the children of
// the locked platforms only, under the index to write (platforms.go).
func (j *job) read(ctx context.Context) (*registry.Manifest, error) {
	only, err := j.platformFilter()
	if err != nil {
		return nil, err
	}
	m, err := j.src.ReadTree(ctx, j.digest, registry.WithRootManifest(j.root, j.rootType), only)
	if err != nil {
		return nil, err
	}
	return j.choosePlatforms(m)
}

// copyManifest writes m under ref after everything it references. The
// children of an index are copied at once, and so are the blobs of each:
// every transfer of the image starts as soon as its manifest is read,
// within the host's bound on transfers. Their blobs differ (a shared one
// is placed once, see ensureBlob), so this pushes no manifest before its
// own blobs, and the repository still receives one image at a time.
func (j *job) copyManifest(ctx context.Context, m *registry.Manifest, ref string) error {
	_, err := j.pushTree(ctx, m, ref)
	return err
}

// pushTree is copyManifest, returning the digest the registry says it
// stored under ref ("" when it does not say).
func (j *job) pushTree(ctx context.Context, m *registry.Manifest, ref string) (digest.Digest, error) {
	if m.IsIndex() {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(childrenAtOnce)
		for _, child := range m.Children {
			g.Go(func() error { return j.copyChild(gctx, child) })
		}
		if err := g.Wait(); err != nil {
			return "", err
		}
	} else if err := j.ensureBlobs(ctx, m); err != nil {
		return "", err
	}
	return j.pushManifest(ctx, ref, m.MediaType, m.Data)
}

// childrenAtOnce bounds the children of one index copied at once: an
// index may list a thousand, each a few requests before its blobs' turn.
const childrenAtOnce = 16

// copyChild copies an index's child by digest, once per image however many
// indexes of its graph name it. Its blobs are checked even when the target
// holds the child already (storage that lost a blob is repaired rather
// than trusted), and a child's manifest is small: PUT it again rather
// than ask first, one request either way, one less for the usual child the
// target lacks.
func (j *job) copyChild(ctx context.Context, child *registry.Manifest) error {
	return j.children.do(child.Digest, func() error { return j.copyManifest(ctx, child, child.Digest.String()) })
}

// onceEach runs a function once per digest; later callers get the first
// one's outcome.
type onceEach struct {
	mu   sync.Mutex
	runs map[digest.Digest]*onceRun
}

type onceRun struct {
	done chan struct{}
	err  error
}

func (o *onceEach) do(d digest.Digest, f func() error) error {
	o.mu.Lock()
	if o.runs == nil {
		o.runs = map[digest.Digest]*onceRun{}
	}
	r, ok := o.runs[d]
	if !ok {
		r = &onceRun{done: make(chan struct{})}
		o.runs[d] = r
	}
	o.mu.Unlock()
	if !ok {
		r.err = f()
		close(r.done)
	}
	<-r.done
	return r.err
}

// blobsAtOnce bounds the blobs of one image manifest placed at once (each
// is a request or two before its transfer, which the host bounds anyway).
const blobsAtOnce = 8

// ensureBlobs makes the target hold every blob of an image manifest.
func (j *job) ensureBlobs(ctx context.Context, m *registry.Manifest) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(blobsAtOnce)
	for _, b := range m.Blobs {
		g.Go(func() error { return j.ensureBlob(gctx, b) })
	}
	return g.Wait()
}

// ensureBlob makes the target repository hold blob b: already there
// (skipped), mounted from another repository of the target registry, or
// streamed from the source. Foreign layers that may not be distributed
// stay references, as docker leaves them.
func (j *job) ensureBlob(ctx context.Context, b v1.Descriptor) error {
	if !b.MediaType.IsDistributable() {
		return nil
	}
	d := digest.Digest(b.Digest.String())
	key := blobKey(j.dst.Host(), d)
	shared, done := j.e.blobs.lock(key, j)
	if shared != nil {
		done(shared)
		return shared
	}
	err := j.placeBlob(ctx, key, d, b.Size)
	done(err)
	return err
}

// placeBlob is ensureBlob under the blob's lock.
func (j *job) placeBlob(ctx context.Context, key string, d digest.Digest, size int64) error {
	here, other := j.e.blobs.lookup(key, j.dst.Name())
	if !here && other == "" && j.e.shouldLearn(size) {
		j.e.learnKnown(ctx)
		here, other = j.e.blobs.lookup(key, j.dst.Name())
	}
	var outcome placement
	var err error
	switch {
	case here:
		outcome = placeFound
	case other == "" && j.likelyAbsent(d):
		outcome, err = j.placeOrStream(ctx, d, size)
	default:
		var location string
		if outcome, location, err = j.placeOrUpload(ctx, d, other); err == nil && outcome == placeUpload {
			err = j.upload(ctx, d, size, location)
		}
	}
	if err != nil {
		return err
	}
	switch outcome {
	case placeFound:
		j.st.skipped.Add(1)
		j.e.opts.progress.Advanced(j.c, size)
	case placeMounted:
		j.st.mounted.Add(1)
		j.e.opts.progress.Advanced(j.c, size)
	}
	j.e.blobs.record(key, j.dst.Name())
	return nil
}

// likelyAbsent reports whether the target repository probably lacks blob
// d, which is then downloaded while the target is asked: the image is
// new there or replaces one (the plan said so), and the image the plan
// saw under the tag, read again from the target now, does not list d.
// It is only a guess about where to spend a round trip: d is asked for
// all the same, and when the target has it, the download is dropped.
func (j *job) likelyAbsent(d digest.Digest) bool {
	if j.c.Action != diff.Create && j.c.Action != diff.Update {
		return false
	}
	return !j.present[d]
}

// placeOrStream places a blob the target likely lacks: the download from
// the source starts together with the mount-or-upload POST rather than a
// round trip after it. When the target has the blob after all, the
// download is dropped.
func (j *job) placeOrStream(ctx context.Context, d digest.Digest, size int64) (placement, error) {
	release, err := j.dst.AcquireTransfer(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := make(chan download, 1)
	go func() {
		rc, err := j.src.GetBlob(dctx, d, size)
		started <- download{rc, err}
	}()
	outcome, location, err := j.placeOrUpload(ctx, d, "")
	if err != nil || outcome != placeUpload {
		cancel() // the download ends at once, wherever it is
		if dl := <-started; dl.rc != nil {
			dl.rc.Close()
		}
		return outcome, err
	}
	// A download that failed to start on a transient fault is tried
	// again by stream; another failure is the source's.
	return placeUpload, j.stream(dctx, d, size, location, <-started)
}

// download is a blob download from the source started ahead of the
// transfer it feeds: the stream, or why it could not start.
type download struct {
	rc  io.ReadCloser
	err error
}

// placement is how a blob came to be in the target repository.
type placement int

const (
	placeFound   placement = iota // it was there
	placeMounted                  // mounted from another repository
	placeUpload                   // not there: an upload session is open (or "" to open one)
)

// place asks the target for blob d without sending its bytes. On a host
// that honours mounts it is one request: POST ?mount=d&from=R, R another
// repository known to hold d, else the target repository itself (a
// registry that holds d there answers 201 as for any mount); 201 means
// the blob is there now, 202 opens the upload session the bytes then go
// to (the registry refused the mount or lacks the blob). Until the host
// has shown how it treats mounts, a HEAD goes along with the POST, at the
// same time: a 202 for a blob the HEAD finds means the host ignores
// mounts, and it is asked HEAD first from then on.
func (j *job) place(ctx context.Context, d digest.Digest, other string) (placement, string, error) {
	host := j.dst.Host()
	support := j.e.mounts.get(host)
	if support == mountsIgnored {
		has, err := j.hasBlob(ctx, d)
		if err != nil || has {
			return placeFound, "", err
		}
		if other == "" {
			return placeUpload, "", nil
		}
	}
	var has bool
	var hasErr error
	g, gctx := errgroup.WithContext(ctx)
	if support == mountsUnknown {
		g.Go(func() error { has, hasErr = j.hasBlob(gctx, d); return nil })
	}
	octx, stop := opening(ctx)
	mounted, location, err := j.mount(octx, d, other)
	stop()
	j.e.sessions.opened(j.dst, location)
	_ = g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	switch {
	case err != nil:
		return 0, "", err
	case mounted:
		j.e.mounts.learn(host, mountsHonoured)
		if other != "" {
			return placeMounted, "", nil
		}
		return placeFound, "", nil
	case support == mountsUnknown && hasErr == nil && has:
		j.e.mounts.learn(host, mountsIgnored)
		j.cancel(ctx, location)
		return placeFound, "", nil
	}
	return placeUpload, location, nil
}

// placeOrUpload is place; when the target stayed unavailable through the
// retry layer's tries, the blob is uploaded (into a session of its own,
// opened with the transfer's restarts): sending a blob the target may hold
// already is harmless, failing the image is not.
func (j *job) placeOrUpload(ctx context.Context, d digest.Digest, other string) (placement, string, error) {
	outcome, location, err := j.place(ctx, d, other)
	if registry.Transient(err) {
		j.e.opts.logger.Debug("blob placement failed, uploading it", "blob", d.String(), "target", j.c.Target, "err", err)
		return placeUpload, "", nil
	}
	return outcome, location, err
}

// pushManifest is PushManifest, given one more round of the retry layer's
// tries when the target stayed unavailable through the first (a registry
// restarting for longer than they last).
func (j *job) pushManifest(ctx context.Context, ref, mediaType string, data []byte) (digest.Digest, error) {
	stored, err := j.dst.PushManifest(ctx, ref, mediaType, data)
	if registry.Transient(err) {
		j.e.opts.logger.Debug("restarting manifest push", "manifest", ref, "target", j.c.Target, "err", err)
		stored, err = j.dst.PushManifest(ctx, ref, mediaType, data)
	}
	return stored, err
}

// mount sends the mount-or-upload POST: from other, else from the target
// repository itself.
func (j *job) mount(ctx context.Context, d digest.Digest, other string) (bool, string, error) {
	repo, from := j.dst, other
	if other == "" {
		from = j.dst.Name()
	} else {
		var err error
		if repo, err = j.e.client.Repo(ctx, j.dstEp, registry.Access{Push: true, MountFrom: []string{other}}); err != nil {
			return false, "", err
		}
	}
	return repo.Mount(ctx, d, from)
}

// hasBlob is a HEAD of blob d in the target repository. A registry
// restarted in the middle of a write can answer 500 for that blob until
// it is written again; uploading is safe whatever the answer would have
// been, so that answer counts as "not there".
func (j *job) hasBlob(ctx context.Context, d digest.Digest) (bool, error) {
	has, err := j.dst.HasBlob(ctx, d)
	if err != nil && serverError(err) && ctx.Err() == nil {
		j.e.opts.logger.Debug("blob check failed, uploading it again", "blob", d.String(), "target", j.c.Target, "err", err)
		return false, nil
	}
	return has, err
}

// cancel ends an upload session opened for nothing (once per host at
// most: when it shows that it ignores mounts); a failure only leaves the
// session to the registry's purge.
func (j *job) cancel(ctx context.Context, location string) {
	if location == "" {
		return
	}
	if err := j.dst.CancelUpload(ctx, location); err != nil {
		j.e.opts.logger.Debug("cancel upload session", "target", j.c.Target, "err", err)
		return // Apply tries again at its end
	}
	j.e.sessions.closed(location)
}

// serverError reports whether err is a registry's 5xx answer.
func serverError(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode >= 500
}

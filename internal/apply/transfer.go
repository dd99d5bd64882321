package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/registry"
)

// blobsAtOnce bounds the blobs of one image manifest pushed at once. Each
// is a request or two before its transfer, which the host bounds anyway
// (8 transfers by default); 8 lets an image's usual handful of layers all
// ask the target at once, and keeps an index's children (childrenAtOnce of
// them) at a few hundred goroutines.
const blobsAtOnce = 8

// pushBlobs makes the target repository hold every blob of an image
// manifest.
func (j *job) pushBlobs(ctx context.Context, m *registry.Manifest) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(blobsAtOnce)
	for _, b := range m.Blobs {
		g.Go(func() error { return j.pushBlob(gctx, b) })
	}
	return g.Wait()
}

// pushBlob makes the target repository hold blob b: already there
// (skipped), mounted from another repository of the target registry, or
// uploaded from the source (see the decision table in doc.go). Foreign
// layers that may not be distributed stay references, as docker leaves
// them. The work on one blob is serialized across the run's images, so
// that a blob they share is placed once.
func (j *job) pushBlob(ctx context.Context, b v1.Descriptor) (err error) {
	if !b.MediaType.IsDistributable() {
		return nil
	}
	d, size := digest.Digest(b.Digest.String()), b.Size
	key := blobKey(j.dst.Host(), d)
	shared, done := j.e.blobs.lock(key, j)
	if shared != nil {
		done(shared)
		return shared
	}
	defer func() { done(err) }()
	here, other := j.e.blobs.lookup(key, j.dst.Name())
	if !here && other == "" && j.e.shouldLearn(size) {
		j.e.learnKnown(ctx)
		here, other = j.e.blobs.lookup(key, j.dst.Name())
	}
	outcome := placeFound
	if !here {
		if outcome, err = j.upload(ctx, d, size, other); err != nil {
			return err
		}
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

// upload places blob d (place: a mount, or an upload session) and, when
// the target asks for its bytes, sends them from the source (send),
// within one of the target host's transfer slots. A blob that no other
// repository is known to hold and that the target likely lacks is
// downloaded from the source together with the mount-or-upload POST
// rather than a round trip after it; when the target has the blob after
// all, the download is dropped.
func (j *job) upload(ctx context.Context, d digest.Digest, size int64, other string) (placement, error) {
	ahead := other == "" && j.likelyAbsent(d)
	var first download
	var started chan download
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if ahead {
		release, err := j.dst.AcquireTransfer(ctx)
		if err != nil {
			return 0, err
		}
		defer release()
		started = make(chan download, 1)
		go func() {
			rc, err := j.src.GetBlob(dctx, d, size)
			started <- download{rc, err}
		}()
	}
	outcome, location, err := j.place(ctx, d, other)
	if err != nil || outcome != placeUpload {
		if ahead {
			cancel() // the download ends at once, wherever it is
			if dl := <-started; dl.rc != nil {
				dl.rc.Close()
			}
		}
		return outcome, err
	}
	if ahead {
		// A download that failed to start on a transient fault is tried
		// again by send; another failure is the source's.
		first = <-started
	} else {
		release, err := j.dst.AcquireTransfer(ctx)
		if err != nil {
			return 0, err // the session is ended with the run's others
		}
		defer release()
	}
	return placeUpload, j.send(dctx, d, size, location, first)
}

// download is a blob download from the source started ahead of the
// transfer it feeds: the stream, or why it could not start.
type download struct {
	rc  io.ReadCloser
	err error
}

// send streams blob d from the source into the target repository, into
// the upload session at location ("" opens one, with the retry layer's
// budget for a step); first, unless zero, is a download of the blob from
// j.src already started. Faults are absorbed by the layer that can, so
// that a transient one never costs a second run:
//
//   - a download cut off in the middle resumes where it stopped
//     (registry.Repo.GetBlob);
//   - a PUT answered 429 or 503 is tried again by the retry layer after
//     its Retry-After, within --max-wait, on a fresh stream of the blob
//     (registry.Repo.UploadFrom);
//   - bad bytes from a source (they fail the digest check, or run past
//     or short of the blob's descriptor: registry.BlobSizeError) are a
//     transient fault like the others: the blob is fetched again from the
//     same source with the retry layer's backoff, as many times as it
//     tries a request (registry.Client.RetryWait), then from each source
//     after it in order (the following mirrors, then the registry itself),
//     each try into a new session; a source that fails otherwise is left
//     for the next one at once;
//   - anything else that breaks the transfer off on the target's side
//     starts it again with a new session, blobRetries times.
//
// The target never receives a whole blob whose bytes or size do not match
// (the last byte waits for both checks, and no more than one byte past the
// size is read from the source), and drops a broken session's data.
func (j *job) send(ctx context.Context, d digest.Digest, size int64, location string, first download) error {
	src, srcAt := j.src, j.srcAt
	restarts, badBytes := 0, 0
	// The first wrong bytes a source served: what the image fails with
	// when no later source serves the blob at all (a registry behind the
	// mirrors that cannot be reached says less).
	var wrongBytes error
	for {
		var err error
		if location == "" {
			if location, err = j.startUpload(ctx); err != nil {
				if first.rc != nil {
					first.rc.Close()
				}
				return err
			}
		}
		err = j.transfer(ctx, src, d, size, location, first)
		first = download{}
		if err == nil {
			j.e.sessions.closed(location)
			j.st.uploaded.Add(1)
			j.st.bytes.Add(size)
			return nil
		}
		location = ""
		var wait *registry.WaitTooLongError
		var fromSource *sourceError
		var sizeErr *registry.BlobSizeError
		bad := errors.Is(err, registry.ErrDigestMismatch) || errors.As(err, &sizeErr)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &wait):
			return fmt.Errorf("copy blob %s of %s: %w", d, j.c.Source, err)
		case errors.As(err, &fromSource) && bad && j.e.client.RetryWait(ctx, badBytes+1) == nil:
			badBytes++
			j.e.opts.logger.Debug("fetching blob again", "blob", d.String(), "source", src.Endpoint().String(), "target", j.c.Target, "err", err)
		case errors.As(err, &fromSource):
			if ctx.Err() != nil { // RetryWait ended with ctx
				return ctx.Err()
			}
			if wrongBytes == nil && bad {
				wrongBytes = err
			}
			next, at, ok := j.nextSource(ctx, srcAt)
			switch {
			case !ok && wrongBytes != nil && wrongBytes != err:
				return fmt.Errorf("copy blob %s of %s: %w; then %s: %v", d, j.c.Source, wrongBytes, src.Endpoint(), err)
			case !ok:
				return fmt.Errorf("copy blob %s of %s: %w", d, j.c.Source, err)
			}
			j.e.opts.logger.Debug("fetching blob from the next source", "blob", d.String(), "source", next.Endpoint().String(), "target", j.c.Target, "err", err)
			src, srcAt, badBytes = next, at, 0
		default:
			if restarts++; restarts > j.e.opts.blobRetries {
				return fmt.Errorf("copy blob %s of %s: %w", d, j.c.Source, err)
			}
			j.e.opts.logger.Debug("restarting blob transfer", "blob", d.String(), "target", j.c.Target, "err", err)
		}
	}
}

// startUpload opens an upload session with the retry layer's budget for
// a step (registry.StepBudget: a registry restarting is waited out
// there, rather than by opening the session again), and records it to be
// ended if the run leaves it open.
func (j *job) startUpload(ctx context.Context) (string, error) {
	octx, stop := opening(registry.WithBudget(ctx, registry.StepBudget))
	location, err := j.dst.StartUpload(octx)
	stop()
	j.e.sessions.opened(j.dst, location)
	if err == nil && ctx.Err() != nil {
		return "", ctx.Err()
	}
	return location, err
}

// nextSource opens the first endpoint after the one at index at that can
// be opened.
func (j *job) nextSource(ctx context.Context, at int) (*registry.Repo, int, bool) {
	for i := at + 1; i < len(j.srcEps); i++ {
		repo, err := j.e.client.Repo(ctx, j.srcEps[i], registry.PullOnly)
		if err == nil {
			return repo, i, true
		}
		j.e.opts.logger.Debug("source unavailable", "source", j.srcEps[i].String(), "err", err)
	}
	return nil, 0, false
}

// sourceError is a transfer that failed on the source's side: the blob
// could not be read, its stream broke off beyond what resuming absorbs,
// or its bytes did not match the digest.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// transfer is one try of send: blob d streamed from src into the session
// at location. The retry layer may ask for the stream again (a 429 before
// the registry took the bytes); it gets a new one unless the source has
// failed, which another PUT cannot mend.
func (j *job) transfer(ctx context.Context, src *registry.Repo, d digest.Digest, size int64, location string, first download) error {
	var mu sync.Mutex
	var srcErr error
	var streams []*sourceStream
	failed := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if srcErr == nil {
			srcErr = err
		}
	}
	open := func() (io.ReadCloser, error) {
		mu.Lock()
		defer mu.Unlock()
		if srcErr != nil {
			return nil, srcErr
		}
		rc, err := first.rc, first.err
		first = download{} // a stream is used once
		if rc == nil && (err == nil || registry.Transient(err)) {
			rc, err = src.GetBlob(ctx, d, size)
		}
		if err != nil {
			srcErr = err
			return nil, err
		}
		s := &sourceStream{rc: rc, advance: func(n int64) { j.e.opts.progress.Advanced(j.c, n) }, failed: failed}
		streams = append(streams, s)
		return s, nil
	}
	err := j.dst.UploadFrom(ctx, location, d, size, open)
	mu.Lock()
	defer mu.Unlock()
	for i, s := range streams {
		if err != nil || i < len(streams)-1 {
			j.e.opts.progress.Advanced(j.c, -s.n.Load()) // the bytes of a broken try are not done
		}
	}
	if err != nil && srcErr != nil {
		return &sourceError{err: fmt.Errorf("%s: %w", src.Endpoint(), srcErr)}
	}
	return err
}

// sourceStream is one download of a blob as an upload's body: it reports
// its bytes for progress, and its failure, which is the source's.
type sourceStream struct {
	rc      io.ReadCloser
	n       atomic.Int64
	advance func(int64)
	failed  func(error)
}

func (s *sourceStream) Read(p []byte) (int, error) {
	n, err := s.rc.Read(p)
	if n > 0 {
		s.n.Add(int64(n))
		s.advance(int64(n))
	}
	if err != nil && err != io.EOF {
		s.failed(err)
	}
	return n, err
}

func (s *sourceStream) Close() error { return s.rc.Close() }

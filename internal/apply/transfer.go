package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/registry"
)

// upload streams blob d from the source into the target repository, into
// the upload session at location ("" opens one). Faults are absorbed by
// the layer that can, so that a transient one never costs a second run:
//
//   - a download cut off in the middle resumes where it stopped
//     (registry.Repo.GetBlob);
//   - a PUT answered 429 or 503 is tried again by the retry layer after
//     its Retry-After, within --max-wait, on a fresh stream of the blob
//     (registry.Repo.UploadFrom);
//   - bytes that fail the digest check are fetched again: once more from
//     the same source, then from each source after it in order (the
//     following mirrors, then the registry itself), each into a new
//     session; a source that sends more or fewer bytes than the blob's
//     descriptor says (registry.BlobSizeError), or fails otherwise, is
//     left for the next one at once;
//   - anything else that breaks the transfer off on the target's side
//     starts it again with a new session, blobRetries times.
//
// The target never receives a whole blob whose bytes or size do not match
// (the last byte waits for both checks, and no more than one byte past the
// size is read from the source), and drops a broken session's data.
func (j *job) upload(ctx context.Context, d digest.Digest, size int64, location string) error {
	release, err := j.dst.AcquireTransfer(ctx)
	if err != nil {
		return err
	}
	defer release()
	return j.stream(ctx, d, size, location, download{})
}

// stream is upload within a transfer slot already held; first, unless
// zero, is a download of the blob from j.src already started.
func (j *job) stream(ctx context.Context, d digest.Digest, size int64, location string, first download) error {
	src, srcAt, askAgain := j.src, j.srcAt, true
	restarts := 0
	// The first wrong bytes a source served: what the image fails with
	// when no later source serves the blob at all (a registry behind the
	// mirrors that cannot be reached says less).
	var wrongBytes error
	for {
		var err error
		if location == "" {
			octx, stop := opening(ctx)
			location, err = j.dst.StartUpload(octx)
			stop()
			j.e.sessions.opened(j.dst, location)
			if err == nil && ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				if first.rc != nil {
					first.rc.Close()
				}
				first = download{}
				// A registry down for longer than the retry layer's tries
				// gets another round of them, within the restarts.
				if !registry.Transient(err) || restarts >= j.e.opts.blobRetries {
					return err
				}
				restarts++
				j.e.opts.logger.Debug("restarting blob transfer", "blob", d.String(), "target", j.c.Target, "err", err)
				continue
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
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &wait):
			return fmt.Errorf("copy blob %s of %s: %w", d, j.c.Source, err)
		case errors.As(err, &fromSource) && errors.Is(err, registry.ErrDigestMismatch) && askAgain:
			askAgain = false
			j.e.opts.logger.Debug("fetching blob again", "blob", d.String(), "source", src.Endpoint().String(), "target", j.c.Target, "err", err)
		case errors.As(err, &fromSource):
			// A source that served the wrong bytes, or more or fewer
			// than the descriptor says, is not asked for the blob again.
			if wrongBytes == nil && (errors.Is(err, registry.ErrDigestMismatch) || errors.Is(err, registry.ErrLimit)) {
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
			src, srcAt = next, at
		default:
			if restarts++; restarts > j.e.opts.blobRetries {
				return fmt.Errorf("copy blob %s of %s: %w", d, j.c.Source, err)
			}
			j.e.opts.logger.Debug("restarting blob transfer", "blob", d.String(), "target", j.c.Target, "err", err)
		}
	}
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

// transfer is one try: blob d streamed from src into the session at
// location. The retry layer may ask for the stream again (a 429 before
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

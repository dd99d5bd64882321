package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/opencontainers/go-digest"
)

// GetBlob opens blob d, of size bytes as its descriptor says, for
// streaming. What the source sends is bounded by the descriptor, and the
// reader fails rather than pass on anything else:
//
//   - a Content-Length other than size, more bytes than size (the stream
//     is read no further than one byte past it), or a stream that ends
//     before size (once resuming gave up) is a *BlobSizeError, the
//     source's error;
//   - bytes that do not hash to d fail the read at the end with an error
//     wrapping ErrDigestMismatch;
//   - the blob's last byte is held back until both checked out, so that
//     an upload fed from the reader never completes with wrong bytes (the
//     target never receives, let alone stores, a whole wrong blob).
//
// A download cut off in the middle (a reset, a body that ends early, a
// stall) is resumed where it stopped, with a Range request, as often as
// the retry policy tries a request: the reader's consumer never sees the
// cut.
func (r *Repo) GetBlob(ctx context.Context, d digest.Digest, size int64) (io.ReadCloser, error) {
	resp, err := r.do(ctx, http.MethodGet, r.base+"/blobs/"+d.String(), nil, nil, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("get blob %s@%s: %w", r.ep.Repo, d, err)
	}
	sizeErr := func(got int64, announced bool) error {
		return &BlobSizeError{Source: r.ep.String(), Repository: r.ep.Repo.String(), Digest: d, Want: size, Got: got, Announced: announced}
	}
	if resp.ContentLength >= 0 && resp.ContentLength != size {
		resp.Body.Close()
		return nil, sizeErr(resp.ContentLength, true)
	}
	body := &resumingBody{ctx: ctx, r: r, d: d, rc: resp.Body, size: size, left: r.host.resumes}
	sized := &sizedBody{rc: body, left: size, size: size, fail: sizeErr}
	return &verifyingReader{rc: sized, digester: d.Algorithm().Digester(), d: d, src: r.ep.String(), repo: r.ep.Repo.String()}, nil
}

// BlobSizeError is a blob whose source sent more or fewer bytes than its
// descriptor says, or announced so. It is the source's error, not a
// transient fault: the copy engine asks the next source for the blob.
type BlobSizeError struct {
	Source     string // the endpoint, "127.0.0.1:5000" or "mirror http://..."
	Repository string // the repository on it, with its host
	Digest     digest.Digest
	Want       int64 // the descriptor's size
	// Got is the Content-Length announced (Announced), the bytes read
	// when the stream ended early, or, when it sent more, the bytes read
	// before it was stopped (Want + 1).
	Got       int64
	Announced bool
}

// Error implements error.
func (e *BlobSizeError) Error() string {
	blob := e.Repository + "@" + e.Digest.String()
	switch {
	case e.Announced:
		return fmt.Sprintf("%s announced %d bytes for blob %s, whose descriptor says %d", e.Source, e.Got, blob, e.Want)
	case e.Got > e.Want:
		return fmt.Sprintf("%s sent more than the %d bytes blob %s has by its descriptor (stopped after %d)", e.Source, e.Want, blob, e.Got)
	}
	return fmt.Sprintf("%s sent %d bytes of blob %s, whose descriptor says %d", e.Source, e.Got, blob, e.Want)
}

// Unwrap makes the error an ErrLimit.
func (e *BlobSizeError) Unwrap() error { return ErrLimit }

// sizedBody passes on exactly size bytes of a blob's stream and makes
// sure the stream ends there: it never asks the stream for more than the
// bytes left, and then for one byte, which must not come.
type sizedBody struct {
	rc   io.ReadCloser
	left int64 // bytes of the blob not read yet
	size int64
	fail func(got int64, announced bool) error
	err  error // sticky: the end, or the failure
}

func (b *sizedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.left == 0 {
		return 0, b.end()
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	switch {
	case err == io.EOF && b.left > 0, err != nil && errors.Is(err, io.ErrUnexpectedEOF):
		// The stream ended before the blob did (and resuming gave up).
		b.err = fmt.Errorf("%w (%w)", b.fail(b.size-b.left, false), err)
		return n, b.err
	case err == io.EOF:
		b.err = io.EOF
	case err != nil:
		b.err = err
	}
	return n, err
}

// end checks that the stream ends after the blob's last byte.
func (b *sizedBody) end() error {
	var one [1]byte
	for {
		n, err := b.rc.Read(one[:])
		switch {
		case n > 0:
			b.err = b.fail(b.size+1, false)
		case err == io.EOF:
			b.err = io.EOF
		case err != nil:
			b.err = err
		default:
			continue
		}
		return b.err
	}
}

func (b *sizedBody) Close() error { return b.rc.Close() }

// ErrDigestMismatch is wrapped by the error of a blob reader whose bytes
// do not hash to the blob's digest.
var ErrDigestMismatch = errors.New("content does not match its digest")

// verifyingReader checks a blob's digest as it streams, and holds back the
// blob's last byte until the digest is checked: a reader of corrupted
// content fails before it has passed on the whole blob, so an upload fed
// from it never completes (the target never receives, let alone stores,
// a whole corrupted blob).
type verifyingReader struct {
	rc       io.ReadCloser
	digester digest.Digester
	d        digest.Digest
	src      string // the endpoint, for the error
	repo     string // the repository on it
	pending  []byte // read and hashed, not yet passed on; its last byte is held back until EOF
	buf      []byte // backing store of pending
	eof      bool   // rc ended and the digest matched
	err      error  // rc failed, or the digest did not match
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if k := len(v.pending); k > 1 || (v.eof && k > 0) {
			if !v.eof {
				k-- // the last byte waits for the digest check
			}
			n := copy(p, v.pending[:k])
			v.pending = v.pending[n:]
			return n, nil
		}
		switch {
		case v.eof:
			return 0, io.EOF
		case v.err != nil:
			return 0, v.err
		}
		if v.buf == nil {
			v.buf = make([]byte, 0, 32<<10+1)
		}
		held := v.pending // 0 or 1 byte
		v.pending = append(v.buf[:0], held...)
		m, err := v.rc.Read(v.pending[len(held):cap(v.pending)])
		v.digester.Hash().Write(v.pending[len(held) : len(held)+m])
		v.pending = v.pending[:len(held)+m]
		switch {
		case err == io.EOF && v.digester.Digest() == v.d:
			v.eof = true
		case err == io.EOF:
			v.pending, v.err = nil, fmt.Errorf("blob %s@%s from %s: %w (its bytes hash to %s)", v.repo, v.d, v.src, ErrDigestMismatch, v.digester.Digest())
		case err != nil:
			v.pending, v.err = nil, err
		}
	}
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

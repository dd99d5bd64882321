package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
)

// resumingBody is a blob download that resumes where it stopped when its
// stream breaks off for a reason the retry layer would retry (a reset, a
// body that ends before its Content-Length, a stall): it asks for the rest
// with "Range: bytes=N-", at most left times. Whether an error is worth
// it is the retry layer's judgement (retryErrReason), so that there is one
// rule; the bytes already read stay read and the digest check above keeps
// hashing across the seam.
type resumingBody struct {
	ctx  context.Context
	r    *Repo
	d    digest.Digest
	rc   io.ReadCloser
	size int64 // the blob's size, -1 if the registry did not say
	off  int64 // bytes passed on so far
	left int   // resumptions left
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		n, err := b.rc.Read(p)
		b.off += int64(n)
		if err == io.EOF && b.size >= 0 && b.off < b.size {
			err = io.ErrUnexpectedEOF
		}
		switch {
		case err == nil || err == io.EOF:
			return n, err
		case n > 0:
			// Pass the data on; the stream's error comes back on the
			// next Read, from the broken stream, and is handled then.
			return n, nil
		case b.left <= 0 || b.ctx.Err() != nil || retryErrReason(err) == "":
			return 0, err
		}
		b.left--
		b.r.logger.Debug("resuming blob download", "blob", b.d.String(), "repository", b.r.ep.Repo.String(), "offset", b.off, "err", redactURLError(err))
		if rerr := b.resume(); rerr != nil {
			return 0, fmt.Errorf("%w (resuming after: %w)", rerr, err)
		}
	}
}

// resume replaces the broken stream by one starting at b.off.
func (b *resumingBody) resume() error {
	b.rc.Close()
	h := http.Header{"Range": {"bytes=" + strconv.FormatInt(b.off, 10) + "-"}}
	resp, err := b.r.do(b.ctx, http.MethodGet, b.r.base+"/blobs/"+b.d.String(), nil, h, http.StatusOK, http.StatusPartialContent)
	if err != nil {
		return fmt.Errorf("resume blob %s@%s at byte %d: %w", b.r.ep.Repo, b.d, b.off, err)
	}
	b.rc = resp.Body
	if resp.StatusCode == http.StatusOK {
		// The registry ignored the range: skip what was read already.
		if _, err := io.CopyN(io.Discard, resp.Body, b.off); err != nil {
			return fmt.Errorf("resume blob %s@%s at byte %d: %w", b.r.ep.Repo, b.d, b.off, err)
		}
		return nil
	}
	if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != b.off {
		return fmt.Errorf("resume blob %s@%s at byte %d: the registry answered with the range %q", b.r.ep.Repo, b.d, b.off, resp.Header.Get("Content-Range"))
	}
	return nil
}

func (b *resumingBody) Close() error { return b.rc.Close() }

// rangeStart reads the first byte of a "bytes START-END/SIZE" range.
func rangeStart(v string) (int64, bool) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

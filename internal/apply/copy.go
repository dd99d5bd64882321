package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/registry"
)

type atomicInt = atomic.Int64

// job is the copy of one image: where it is read from and written to.
type job struct {
	e         *Engine
	c         diff.Change
	st        *stats
	src, dst  *registry.Repo
	dstEp     registry.Endpoint
	digest    digest.Digest
	targetRef string // the tag, or the digest of a digest-only target
	root      []byte // the top manifest, read while choosing the source
	rootType  string
}

// prepare picks the source endpoint (mirrors first) that serves the locked
// digest and opens the target repository for pushing.
func (e *Engine) prepare(ctx context.Context, c diff.Change, st *stats) (*job, error) {
	src, dst, d := c.Source, c.Target, c.Digest
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("locked digest of %s: %w", src, err)
	}
	j := &job{e: e, c: c, st: st, digest: d, targetRef: dst.Tag()}
	if dst.Tag() == "" {
		j.targetRef = c.TargetDigest().String()
	}
	eps, err := e.client.Endpoints(src)
	if err != nil {
		return nil, err
	}
	var errs []string
	for _, ep := range eps {
		repo, err := e.client.Repo(ctx, ep, registry.PullOnly)
		if err == nil {
			j.root, j.rootType, err = repo.GetManifest(ctx, d)
		}
		if err == nil {
			j.src = repo
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

// copyManifest writes m under ref after everything it references.
func (j *job) copyManifest(ctx context.Context, m *registry.Manifest, ref string) error {
	if m.IsIndex() {
		// The children are copied at once, so that a multi-platform image
		// streams every platform's layers together rather than one
		// platform after the other. Their blobs differ, so this pushes no
		// more concurrently into one repository than ensureBlobs does, and
		// the host's transfer bound still caps the streams.
		g, gctx := errgroup.WithContext(ctx)
		for _, child := range m.Children {
			g.Go(func() error { return j.copyChild(gctx, child) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
	} else if err := j.ensureBlobs(ctx, m); err != nil {
		return err
	}
	return j.dst.PutManifest(ctx, ref, m.MediaType, m.Data)
}

// copyChild copies an index's child by digest. Its blobs are checked even
// when the target holds the child already (storage that lost a blob is
// repaired rather than trusted), and a child's manifest is small: PUT it
// again rather than ask first, one request either way, one less for the
// usual child the target lacks.
func (j *job) copyChild(ctx context.Context, child *registry.Manifest) error {
	return j.copyManifest(ctx, child, child.Digest.String())
}

// ensureBlobs makes the target hold every blob of an image manifest.
func (j *job) ensureBlobs(ctx context.Context, m *registry.Manifest) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
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
	unlock := j.e.blobs.lock(key)
	defer unlock()
	here, other := j.e.blobs.lookup(key, j.dst.Name())
	if !here {
		has, err := j.dst.HasBlob(ctx, d)
		switch {
		case err != nil && serverError(err) && ctx.Err() == nil:
			// A registry restarted in the middle of a write can answer 500
			// for that blob until it is written again; uploading is safe
			// whatever the answer would have been, so the run goes on.
			j.e.opts.logger.Debug("blob check failed, uploading it again", "blob", d.String(), "target", j.c.Target, "err", err)
		case err != nil:
			return err
		default:
			here = has
		}
	}
	if here {
		j.e.blobs.record(key, j.dst.Name())
		j.st.skipped.Add(1)
		j.e.opts.progress.Advanced(j.c, b.Size)
		return nil
	}
	if other == "" {
		j.e.learnKnown(ctx)
		_, other = j.e.blobs.lookup(key, j.dst.Name())
	}
	location := ""
	if other != "" {
		repo, err := j.e.client.Repo(ctx, j.dstEp, registry.Access{Push: true, MountFrom: []string{other}})
		if err != nil {
			return err
		}
		mounted, loc, err := repo.Mount(ctx, d, other)
		if err != nil {
			return err
		}
		if mounted {
			j.e.blobs.record(key, j.dst.Name())
			j.st.mounted.Add(1)
			j.e.opts.progress.Advanced(j.c, b.Size)
			return nil
		}
		location = loc // the registry declined the mount and opened an upload
	}
	if err := j.upload(ctx, d, b.Size, location); err != nil {
		return err
	}
	j.e.blobs.record(key, j.dst.Name())
	return nil
}

// upload streams blob d from the source into the target. A transfer that
// breaks off is started again with a new upload session, a bounded number
// of times; the registry discards the broken session's partial data.
func (j *job) upload(ctx context.Context, d digest.Digest, size int64, location string) error {
	release, err := j.dst.AcquireTransfer(ctx)
	if err != nil {
		return err
	}
	defer release()
	var lastErr error
	for attempt := 0; attempt <= j.e.opts.blobRetries; attempt++ {
		if attempt > 0 {
			j.e.opts.logger.Debug("restarting blob transfer", "blob", d.String(), "target", j.c.Target, "err", lastErr)
			location = ""
		}
		if location == "" {
			if location, err = j.dst.StartUpload(ctx); err != nil {
				return err
			}
		}
		rc, _, err := j.src.GetBlob(ctx, d)
		if err != nil {
			return err
		}
		body := &countingReader{r: rc, advance: func(n int64) { j.e.opts.progress.Advanced(j.c, n) }}
		lastErr = j.dst.Upload(ctx, location, d, size, body)
		rc.Close()
		if lastErr == nil {
			j.st.uploaded.Add(1)
			j.st.bytes.Add(size)
			return nil
		}
		j.e.opts.progress.Advanced(j.c, -body.n) // the bytes of a broken try are not done
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("copy blob %s of %s: %w", d, j.c.Source, lastErr)
}

// learnKnown reads, once per run, the manifests of the images the target
// already holds and records where their blobs are. Failures only cost a
// mount: the blob is then uploaded.
func (e *Engine) learnKnown(ctx context.Context) {
	e.knownOnce.Do(func() {
		// The images are read eight at a time: one after the other, a
		// plan with many unchanged images made the first missing blob
		// wait for dozens of round trips.
		var g errgroup.Group
		g.SetLimit(8)
		for _, k := range e.opts.known {
			g.Go(func() error {
				ep, err := e.client.TargetRepository(k.Target)
				if err != nil {
					return nil
				}
				repo, err := e.client.Repo(ctx, ep, registry.PullOnly)
				if err != nil {
					return nil
				}
				tree, err := repo.ReadTree(ctx, k.Digest)
				if err != nil {
					return nil
				}
				tree.Walk(func(m *registry.Manifest) {
					for _, b := range m.Blobs {
						e.blobs.record(blobKey(repo.Host(), digest.Digest(b.Digest.String())), repo.Name())
					}
				})
				return nil
			})
		}
		_ = g.Wait() // failures only cost a mount
	})
}

// serverError reports whether err is a registry's 5xx answer.
func serverError(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode >= 500
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r       io.Reader
	n       int64
	advance func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.advance(int64(n))
	}
	return n, err
}

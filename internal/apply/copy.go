package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/registry"
)

type atomicInt = atomic.Int64

// The copy engine's words (the decision table is in doc.go): an image's
// manifest tree is pushed (job.pushTree: children and blobs first, then
// the manifest), each of its blobs is pushed (job.pushBlob: found, or
// placed by a mount, or uploaded), and an upload streams the blob from a
// source into an upload session (job.send, one try of which is
// job.transfer).
//
// A job is one image: where it is read from and written to.
type job struct {
	e         *run
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
func (e *run) prepare(ctx context.Context, c diff.Change) (*job, error) {
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

// pushTree writes m under ref after everything it references, and
// returns the digest the registry says it stored under ref ("" when it
// does not say). The children of an index are pushed at once, and so are
// the blobs of each: every transfer of the image starts as soon as its
// manifest is read, within the host's bound on transfers. Their blobs
// differ (a shared one is placed once, see pushBlob), so this pushes no
// manifest before its own blobs, and the repository still receives one
// image at a time.
//
// A child is pushed by digest, once per image however many indexes of its
// graph name it. Its blobs are checked even when the target holds the
// child already (storage that lost a blob is repaired rather than
// trusted), and a child's manifest is small: PUT it again rather than ask
// first, one request either way, one less for the usual child the target
// lacks.
func (j *job) pushTree(ctx context.Context, m *registry.Manifest, ref string) (digest.Digest, error) {
	if m.IsIndex() {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(childrenAtOnce)
		for _, child := range m.Children {
			g.Go(func() error {
				return j.children.do(child.Digest, func() error {
					_, err := j.pushTree(gctx, child, child.Digest.String())
					return err
				})
			})
		}
		if err := g.Wait(); err != nil {
			return "", err
		}
	} else if err := j.pushBlobs(ctx, m); err != nil {
		return "", err
	}
	return j.pushManifest(ctx, ref, m.MediaType, m.Data)
}

// childrenAtOnce bounds the children of one index pushed at once: an
// index may list a thousand (MaxIndexEntries), each a few requests before
// its blobs' turn; 16 keeps two or three platforms' children with their
// attestations going together, while the hosts bound the requests and
// transfers themselves.
const childrenAtOnce = 16

// pushManifest is PushManifest with the retry layer's budget for a step
// (registry.StepBudget): a manifest that cannot be pushed fails the image
// however many of its blobs landed.
func (j *job) pushManifest(ctx context.Context, ref, mediaType string, data []byte) (digest.Digest, error) {
	return j.dst.PushManifest(registry.WithBudget(ctx, registry.StepBudget), ref, mediaType, data)
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
//
// When the target stays unavailable through the retry layer's tries of
// the POST (a request budget: the mount is a shortcut), the blob is
// uploaded, into a session opened by a POST of its own with a step's
// budget (see send): a registry whose mounts fail may still take the
// bytes, and sending a blob the target may hold already is harmless,
// failing the image is not.
func (j *job) place(ctx context.Context, d digest.Digest, other string) (placement, string, error) {
	host := j.dst.Host()
	support := j.e.mounts.get(host)
	if support == mountsIgnored {
		has, err := j.hasBlob(ctx, d)
		switch {
		case err != nil && !registry.Transient(err):
			return 0, "", err
		case err == nil && has:
			return placeFound, "", nil
		case other == "":
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
	case registry.Transient(err):
		j.e.opts.logger.Debug("blob placement failed, uploading it", "blob", d.String(), "target", j.c.Target, "err", err)
		return placeUpload, "", nil
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

package apply

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/registry"
)

// blobTracker remembers, per target registry host and digest, which
// repositories hold a blob, and serializes the work on one blob so that a
// blob shared by images copied in parallel is placed once.
type blobTracker struct {
	mu    sync.Mutex
	where map[string]map[string]bool // host|digest -> repositories
	locks map[string]*blobLock       // host|digest -> held while working on it
}

// blobLock is held while one job works on a blob. It keeps the outcome of
// the last attempt, so that another part of the same image (an index's
// children often share a layer) that waited for it fails with it rather
// than fetch the same bad bytes again: the image fails either way.
type blobLock struct {
	mu       sync.Mutex
	attempts int   // finished attempts; under blobTracker.mu
	failed   error // the last attempt's error; under blobTracker.mu
	by       *job  // the job of the last attempt; under blobTracker.mu
}

func newBlobTracker() *blobTracker {
	return &blobTracker{where: map[string]map[string]bool{}, locks: map[string]*blobLock{}}
}

func blobKey(host string, d digest.Digest) string { return host + "|" + d.String() }

// lock serializes the work on one blob of one target registry for j.
// shared is the error of an attempt of j's that finished while j waited
// (nil when there was none, or it succeeded, or it was cancelled): j then
// has nothing left to try. done records the outcome and releases the lock.
func (t *blobTracker) lock(key string, j *job) (shared error, done func(error)) {
	t.mu.Lock()
	l, ok := t.locks[key]
	if !ok {
		l = &blobLock{}
		t.locks[key] = l
	}
	seen := l.attempts
	t.mu.Unlock()
	l.mu.Lock()
	t.mu.Lock()
	if l.attempts != seen && l.by == j && l.failed != nil && !errors.Is(l.failed, context.Canceled) {
		shared = l.failed
	}
	t.mu.Unlock()
	return shared, func(err error) {
		t.mu.Lock()
		l.attempts++
		l.failed, l.by = err, j
		t.mu.Unlock()
		l.mu.Unlock()
	}
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

// mountSupport is what a target host has shown of cross-repository
// mounts: a mount-or-upload (POST ?mount=&from=) replaces the HEAD of a
// blob only on a host known to honour mounts, since a registry that
// ignores them (go-containerregistry's, for one) answers 202 for a blob it
// holds, and the blob would be uploaded again.
type mountSupport int

const (
	mountsUnknown  mountSupport = iota // ask with HEAD and POST at once
	mountsHonoured                     // some mount was answered 201: POST alone
	mountsIgnored                      // a blob it holds was not mounted: HEAD, then POST
)

// mountState holds mountSupport per target host.
type mountState struct {
	mu    sync.Mutex
	hosts map[string]mountSupport
}

func (m *mountState) get(host string) mountSupport {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hosts[host]
}

// learn records what a host showed; a host that ever honoured a mount
// keeps that name.
func (m *mountState) learn(host string, s mountSupport) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hosts == nil {
		m.hosts = map[string]mountSupport{}
	}
	if m.hosts[host] != mountsHonoured {
		m.hosts[host] = s
	}
}

// learnThreshold is the size from which a blob that no repository of the
// run is known to hold waits for the unchanged images' manifests to be
// read (learnKnown) even in a run that creates no image: reading them
// costs a round trip or a few, uploading such a blob again costs more.
const learnThreshold = 16 << 20

// shouldLearn reports whether a blob of size that no repository of the run
// is known to hold waits for learnKnown before it is placed. A run that
// creates images does so for every such blob: a new image's blobs have
// often landed already (a run cut short before; an image on the base of
// one mirrored long ago), and a re-run must not upload again what landed.
// A run that only updates images does so for large blobs only: an
// update's new blobs are new, its old ones are in its own repository,
// and reading every unchanged image for it would cost dozens of requests
// (39 when one image of the example stack moves).
func (e *run) shouldLearn(size int64) bool {
	return len(e.opts.known) > 0 && (e.creates || size >= learnThreshold)
}

// knownAtOnce bounds the unchanged images read at once by learnKnown:
// each is a manifest or a few, small; 16 keeps the read to a round trip or
// two for the example stacks' dozens of images, within the host's bound.
const knownAtOnce = 16

// learnKnown reads, once per run, the manifests of the images the target
// already holds (the plan's unchanged images) and records where their
// blobs are. A run that creates images starts it at once, alongside the
// source reads (it is mostly done when the first blob needs it); others
// on the first blob that needs it. Failures only cost a mount: the blob
// is then uploaded.
func (e *run) learnKnown(ctx context.Context) {
	e.knownOnce.Do(func() {
		var g errgroup.Group
		g.SetLimit(knownAtOnce)
		for _, k := range e.opts.known {
			g.Go(func() error {
				repo, blobs, err := e.targetBlobs(ctx, k.Target, k.Digest)
				for _, d := range blobs {
					e.blobs.record(blobKey(repo.Host(), d), repo.Name())
				}
				_ = err // failures only cost a mount
				return nil
			})
		}
		_ = g.Wait()
	})
}

// targetBlobs lists the blobs of the manifest tree d names in ref's target
// repository, read from there now, and that repository.
func (e *Engine) targetBlobs(ctx context.Context, ref imageref.Ref, d digest.Digest) (*registry.Repo, []digest.Digest, error) {
	ep, err := e.client.TargetRepository(ref)
	if err != nil {
		return nil, nil, err
	}
	repo, err := e.client.Repo(ctx, ep, registry.PullOnly)
	if err != nil {
		return nil, nil, err
	}
	tree, err := repo.ReadTree(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	var blobs []digest.Digest
	tree.Walk(func(m *registry.Manifest) {
		for _, b := range m.Blobs {
			blobs = append(blobs, digest.Digest(b.Digest.String()))
		}
	})
	return repo, blobs, nil
}

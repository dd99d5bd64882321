package apply

import (
	"context"
	"sort"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/registry"
)

// blobTracker remembers, per target registry host and digest, which
// repositories hold a blob, and serializes the work on one blob so that a
// blob shared by images copied in parallel is placed once.
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
// run is known to hold waits for the engine to read the unchanged images'
// manifests (once per run), to mount the blob if one of them has it.
// Reading them costs a round trip or a few (dozens of manifest GETs, 16
// at a time); uploading a smaller blob again costs less than that on
// most links, and a plan where most images are unchanged would otherwise
// read them all for every run that moves one image.
const learnThreshold = 16 << 20

// learnKnown reads, once per run, the manifests of the images the target
// already holds (the plan's unchanged images) and records where their
// blobs are. Failures only cost a mount: the blob is then uploaded.
func (e *Engine) learnKnown(ctx context.Context) {
	e.knownOnce.Do(func() {
		var g errgroup.Group
		g.SetLimit(16)
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

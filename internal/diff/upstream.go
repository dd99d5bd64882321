package diff

import (
	"context"
	"errors"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

// Resolver asks upstream what a source reference points at now, with one
// HEAD (registry.Client has it: mirrors first, then the registry).
type Resolver interface {
	Resolve(ctx context.Context, ref imageref.Ref) (registry.Head, error)
}

// Upstream is what an image's tag pointed at upstream when the plan was
// made. Anything written in images.lock can be edited with it, so the
// check is against the source: a locked digest that is not what the tag
// points at is either a lock edited by hand or a tag that moved upstream
// since it was locked, and which of the two cannot be told from here.
type Upstream struct {
	// Digest is what the tag points at upstream; "" when it could not be
	// asked, and Err says why.
	Digest digest.Digest
	Err    string
}

// Unusual reports whether the change's locked digest is not what its tag
// points at upstream now.
func (c Change) Unusual() bool {
	return c.Upstream != nil && c.Upstream.Digest != "" && c.Upstream.Digest != c.Digest
}

// UpstreamUnchecked reports whether upstream was asked about the change
// and could not tell.
func (c Change) UpstreamUnchecked() bool { return c.Upstream != nil && c.Upstream.Digest == "" }

// askUpstream resolves src upstream; nil for a reference pinned by digest
// in the repository, which no tag can move. Only the end of the run is an
// error: a registry that cannot be asked is the Upstream's Err.
func askUpstream(ctx context.Context, r Resolver, src imageref.Ref) (*Upstream, error) {
	if src.IsPinned() {
		return nil, nil
	}
	head, err := r.Resolve(ctx, src)
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, registry.ErrNotFound):
		return &Upstream{Err: "the tag does not exist upstream any more"}, nil
	case err != nil:
		return &Upstream{Err: err.Error()}, nil
	}
	return &Upstream{Digest: head.Digest}, nil
}

// upstreamJobs bounds the questions asked upstream at once: one HEAD
// each, light, so 32 asks a stack of dozens of images in a round trip or
// two; the registry client bounds each host further (16 requests, x4 on a
// far host).
const upstreamJobs = 32

// CheckUpstream asks upstream about every image p creates or updates (one
// HEAD each, at most upstreamJobs at once), for a plan made without the
// target (AgainstLock); Make asks alongside the target's HEADs when its
// Options name a Resolver.
func CheckUpstream(ctx context.Context, p *Plan, r Resolver) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(upstreamJobs)
	for i, c := range p.Changes {
		if c.Kind != KindImage || (c.Action != Create && c.Action != Update) {
			continue
		}
		g.Go(func() error {
			up, err := askUpstream(gctx, r, c.Source)
			p.Changes[i].Upstream = up
			return err
		})
	}
	return g.Wait()
}

// LockedUpstream is what `lock --check --online` found of one image.
type LockedUpstream struct {
	Source   imageref.Ref
	Locked   digest.Digest
	Upstream Upstream
}

// Unusual reports whether the locked digest is not what the tag points
// at upstream now.
func (u LockedUpstream) Unusual() bool {
	return u.Upstream.Digest != "" && u.Upstream.Digest != u.Locked
}

// CheckLockUpstream asks upstream about every image of l whose reference
// is a tag (one HEAD each, at most upstreamJobs at once) and returns
// those whose locked digest is not what the tag points at, or that could
// not be asked, in the lock's order.
func CheckLockUpstream(ctx context.Context, l *lock.Lock, r Resolver) ([]LockedUpstream, error) {
	found := make([]*Upstream, len(l.Images))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(upstreamJobs)
	for i, img := range l.Images {
		g.Go(func() error {
			up, err := askUpstream(gctx, r, img.Ref)
			found[i] = up
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []LockedUpstream
	for i, up := range found {
		if up == nil {
			continue
		}
		u := LockedUpstream{Source: l.Images[i].Ref, Locked: l.Images[i].Digest, Upstream: *up}
		if u.Unusual() || u.Upstream.Digest == "" {
			out = append(out, u)
		}
	}
	return out, nil
}

// TargetHost is the registry host of target.registry
// ("reg.example.com:5000" of "reg.example.com:5000/team"); "" when the
// plan does not say.
func (p *Plan) TargetHost() string {
	host, _, _ := strings.Cut(p.TargetRegistry, "/")
	return host
}

// OtherHosts are the pending changes that write to a registry other than
// target.registry's host (an image block's full target reference), in
// plan order; none when the plan does not name target.registry.
func (p *Plan) OtherHosts() []Change {
	host := p.TargetHost()
	var out []Change
	for _, c := range p.Pending() {
		if host != "" && c.Target.Domain() != host {
			out = append(out, c)
		}
	}
	return out
}

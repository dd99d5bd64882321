// Package preflight finds out, before apply and without changing anything,
// what would make apply fail halfway: a target repository that does not
// exist and that the registry does not create on push, credentials that
// may pull but not push, a source registry's pull quota that runs out
// before the last image. It only reports, as a diff.Preflight: plan
// decides the exit code and internal/view renders it.
package preflight

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/registry"
)

// Prober is what preflight asks of the registries; *registry.Client
// implements it.
type Prober interface {
	// RepositoryExists reports whether ref's target repository exists.
	RepositoryExists(ctx context.Context, ref imageref.Ref) (bool, error)
	// CheckPush reports whether a push to ref's target repository would
	// be accepted, leaving nothing behind (see registry.Client.CheckPush).
	CheckPush(ctx context.Context, ref imageref.Ref) error
	// Resolve sends one HEAD for ref through its endpoints, mirrors first.
	Resolve(ctx context.Context, ref imageref.Ref) (registry.Head, error)
}

// Options control Run.
type Options struct {
	// CheckTargets checks every target repository the plan writes to.
	CheckTargets bool
	// ReadRateLimits sends one HEAD of a locked manifest to each source
	// registry apply will pull from, to read its rate limit; a HEAD does
	// not count as a pull on Docker Hub.
	ReadRateLimits bool
	// Jobs bounds the checks in flight; the registry client bounds each
	// host further. Default 8.
	Jobs int
}

// Run makes the preflight of plan p. Without options it only counts the
// pulls, sending nothing. A plan with nothing to do gets none (nil): it
// writes to no repository and pulls nothing. Run never fails: a check
// that cannot be made is reported as such.
func Run(ctx context.Context, p *diff.Plan, pr Prober, opts Options) *diff.Preflight {
	pending := p.Pending()
	if len(pending) == 0 {
		return nil
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 8
	}
	pf := &diff.Preflight{Checked: opts.CheckTargets, Pulls: countPulls(pending)}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Jobs)
	if opts.CheckTargets {
		for _, repo := range repositories(pending) {
			g.Go(func() error {
				check := checkTarget(gctx, pr, repo)
				mu.Lock()
				pf.Targets = append(pf.Targets, check)
				mu.Unlock()
				return nil
			})
		}
	}
	if opts.ReadRateLimits {
		for i := range pf.Pulls {
			g.Go(func() error {
				readRateLimit(gctx, pr, &pf.Pulls[i], pending)
				return nil
			})
		}
	}
	_ = g.Wait() // every check reports its own failure
	slices.SortFunc(pf.Targets, func(a, b diff.TargetCheck) int { return strings.Compare(a.Repository, b.Repository) })
	return pf
}

// repository is one target repository the plan writes to.
type repository struct {
	ref imageref.Ref // a target reference in it
	// exists is true when a change of the plan found a tag in it.
	exists bool
}

// repositories lists the target repositories the plan writes to.
func repositories(pending []diff.Change) []repository {
	byName := map[string]*repository{}
	var order []string
	for _, c := range pending {
		name := c.Target.Repository()
		r, ok := byName[name]
		if !ok {
			r = &repository{ref: c.Target}
			byName[name] = r
			order = append(order, name)
		}
		r.exists = r.exists || c.Action == diff.Update || c.Action == diff.Rebuild
	}
	out := make([]repository, 0, len(order))
	for _, name := range order {
		out = append(out, *byName[name])
	}
	return out
}

// checkTarget finds out whether a push to repo would be accepted, and
// whether the push creates it.
func checkTarget(ctx context.Context, pr Prober, repo repository) diff.TargetCheck {
	check := diff.TargetCheck{Repository: repo.ref.Repository()}
	err := pr.CheckPush(ctx, repo.ref)
	var aerr *registry.AuthError
	switch {
	case errors.Is(err, registry.ErrNotFound):
		check.Status, check.Detail = diff.TargetMissing, registryAnswer(err)
		check.Fix = CreateHint(repo.ref.Domain(), repo.ref.Path())
		return check
	case errors.As(err, &aerr):
		check.Status, check.Detail, check.Fix = diff.TargetNoPush, authAnswer(aerr), permissionHint(aerr)
		return check
	case err != nil:
		check.Status, check.Detail = diff.TargetUnchecked, err.Error()
		return check
	}
	check.Status = diff.TargetOK
	if !repo.exists {
		// Whether it exists decides only what the report says: the push
		// is accepted either way. A failed look counts as existing.
		if exists, err := pr.RepositoryExists(ctx, repo.ref); err == nil && !exists {
			check.Status = diff.TargetCreatedOnPush
		}
	}
	return check
}

// registryAnswer is the registry's own error code and message, else the
// whole error.
func registryAnswer(err error) string {
	var terr *transport.Error
	if errors.As(err, &terr) {
		for _, d := range terr.Errors {
			if d.Message != "" {
				return string(d.Code) + ": " + d.Message
			}
		}
		return terr.Error()
	}
	return err.Error()
}

// authAnswer says what the registry refused.
func authAnswer(e *registry.AuthError) string {
	switch {
	case e.Detail != "":
		return e.Detail
	case e.Anonymous:
		return "no credentials for " + e.Host
	case e.Status == 403:
		return "403 Forbidden"
	}
	return "401 Unauthorized"
}

// countPulls counts, per source registry, the manifest GETs apply sends
// to copy the pending images: the top manifest and, for an index, each
// child (one per locked platform).
func countPulls(pending []diff.Change) []diff.SourcePulls {
	byRegistry := map[string]*diff.SourcePulls{}
	for _, c := range pending {
		if c.Kind != diff.KindImage {
			continue
		}
		s, ok := byRegistry[c.Source.Domain()]
		if !ok {
			s = &diff.SourcePulls{Registry: c.Source.Domain()}
			byRegistry[c.Source.Domain()] = s
		}
		s.Images++
		s.Pulls += manifestGets(c)
	}
	out := make([]diff.SourcePulls, 0, len(byRegistry))
	for _, s := range byRegistry {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b diff.SourcePulls) int { return strings.Compare(a.Registry, b.Registry) })
	return out
}

// manifestGets is how many manifests apply GETs from the source for c: the
// distinct manifests of its graph it copies, as the lock counted them (the
// top manifest and, for an index, the children it copies: the mirrored
// platforms when the lock chose some, their attestation manifests, nested
// indexes), and every referrer it copies. An image already in place with
// referrers to copy is read for its top manifest and those referrers only.
func manifestGets(c diff.Change) int {
	if c.Action == diff.Referrers {
		return 1 + len(c.Referrers)
	}
	return c.Reads() + len(c.Referrers)
}

// readRateLimit sends one HEAD of the first pending image of s's registry
// (by digest, through its endpoints as apply reads them) and records the
// rate limit it announced.
func readRateLimit(ctx context.Context, pr Prober, s *diff.SourcePulls, pending []diff.Change) {
	for _, c := range pending {
		if c.Kind != diff.KindImage || c.Source.Domain() != s.Registry {
			continue
		}
		head, err := pr.Resolve(ctx, c.Source.WithDigest(c.Digest))
		if err != nil {
			s.Error = err.Error()
			return
		}
		s.Endpoint, s.RateLimit = head.Endpoint.String(), head.RateLimit
		return
	}
}

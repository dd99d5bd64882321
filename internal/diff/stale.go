package diff

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

// StaleError says why a saved plan can no longer be applied.
type StaleError struct{ Reasons []string }

func (e *StaleError) Error() string {
	msg := "saved plan is stale"
	for _, r := range e.Reasons {
		msg += "\n  " + r
	}
	return msg + "\nrun \"imagesync plan\" again"
}

// CheckStale compares a saved plan with the current lock and the target
// registry as it is now: a different lock, or a target that no longer
// points where the plan saw it, makes the plan stale.
//
// Only p.Changes are checked: for one part of a partitioned plan (Part),
// the images of the other parts are being pushed by their own runners.
// recheckAtOnce bounds the changes checked again at once: one HEAD each
// (two for a build), as upstreamJobs, so the same 32; the registry client
// bounds each host further.
const recheckAtOnce = 32

// A target that has moved to where the plan takes it (the locked digest;
// for a build, an image labelled with the locked inputs) is not stale but
// done, as when an earlier run of this plan was interrupted after it
// landed: CheckStale turns such changes into no-ops and counts p.Summary
// again, so that running the plan again finishes the job.
func CheckStale(ctx context.Context, p *Plan, lockSum digest.Digest, obs Observer) error {
	if err := checkSum(p, lockSum); err != nil {
		return err
	}
	var mu sync.Mutex
	var reasons []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(recheckAtOnce)
	for i, c := range p.Changes {
		g.Go(func() error {
			landed, reason, err := recheck(gctx, obs, c)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				return err
			case reason != "":
				reasons = append(reasons, reason)
			case landed != nil:
				p.Changes[i] = *landed
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(reasons) > 0 {
		sort.Strings(reasons)
		return &StaleError{Reasons: reasons}
	}
	p.Summary = summarize(p.Changes)
	return nil
}

// recheck asks the target about one change of a saved plan: nothing when
// it is where the plan saw it, the change made a no-op when it has since
// reached the plan's goal, else the reason the plan is stale.
func recheck(ctx context.Context, obs Observer, c Change) (landed *Change, reason string, err error) {
	var now digest.Digest
	head, err := obs.HeadTarget(ctx, c.Target)
	switch {
	case errors.Is(err, registry.ErrNotFound):
	case err != nil:
		return nil, "", fmt.Errorf("check target %s: %w", c.Target, err)
	default:
		now = head.Digest
	}
	if now == c.CurrentDigest {
		return nil, "", nil
	}
	done := c
	done.Action, done.CurrentDigest = NoOp, now
	switch {
	case now == "":
	case c.Kind == KindImage && now == c.TargetDigest():
		if len(c.Referrers) > 0 {
			// The image landed; its referrers may not have: copying them
			// again is by digest, and costs nothing for those in place.
			done.Action = Referrers
		}
		return &done, "", nil
	case c.Kind == KindBuild:
		head, labels, err := obs.TargetLabels(ctx, c.Target)
		if err != nil && !errors.Is(err, registry.ErrNotFound) {
			return nil, "", fmt.Errorf("check target %s: %w", c.Target, err)
		}
		if err == nil && head.Digest == now && labels[lock.InputsLabel] == c.Inputs.String() {
			done.CurrentInputs = c.Inputs.String()
			return &done, "", nil
		}
	}
	return nil, fmt.Sprintf("%s moved since the plan: %s -> %s", c.Target, orMissing(c.CurrentDigest), orMissing(now)), nil
}

func orMissing(d digest.Digest) string {
	if d == "" {
		return "(missing)"
	}
	return imageref.ShortDigest(d)
}

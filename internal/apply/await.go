package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

// DefaultShardWait is how long a build waits, by default, for a base that
// another part of a split plan pushes (see WithShardWait).
const DefaultShardWait = 30 * time.Minute

// WithShardWait bounds how long a build waits for a base image or build
// that another part of a split plan pushes (BuildEnv.Elsewhere) before it
// fails saying so; DefaultShardWait when not set. Values below one second
// mean one second.
func WithShardWait(d time.Duration) Option {
	return func(o *options) { o.shardWait = max(d, time.Second) }
}

// Polls of the target while a base is awaited start often, for the
// usual case of a sibling that is nearly done, and slow down to a request
// every pollMax, so that many waiting runners stay light on the registry.
const (
	pollFirst = 500 * time.Millisecond
	pollMax   = 10 * time.Second
)

// awaitElsewhere waits until the target holds a base that another part of
// the plan pushes: a mirrored image by its locked digest (pushed by
// digest, index after children, so its presence means it is whole), or a
// build's target image labelled with the locked inputs. It returns the
// digest to build from.
func (e *Engine) awaitElsewhere(ctx context.Context, c diff.Change) (digest.Digest, error) {
	check := func(ctx context.Context) (digest.Digest, error) {
		head, err := e.client.HeadTarget(ctx, c.Target.WithDigest(c.Digest))
		return head.Digest, err
	}
	what := fmt.Sprintf("%s@%s", c.Target.Repository(), c.Digest)
	if c.Kind == diff.KindBuild {
		what = fmt.Sprintf("%s built from inputs %s", c.Target, c.Inputs)
		check = func(ctx context.Context) (digest.Digest, error) {
			head, labels, err := e.client.TargetLabels(ctx, c.Target)
			if err == nil && labels[lock.InputsLabel] != c.Inputs.String() {
				err = registry.ErrNotFound // an older build: not yet
			}
			return head.Digest, err
		}
	}
	e.opts.logger.Debug("waiting for a base another part of the plan pushes", "base", c.Source, "shard", c.Shard, "target", what)
	deadline := time.Now().Add(e.opts.shardWait)
	for delay := pollFirst; ; delay = min(delay*2, pollMax) {
		d, err := check(ctx)
		switch {
		case err == nil:
			return d, nil
		case !errors.Is(err, registry.ErrNotFound):
			return "", fmt.Errorf("wait for base %s (shard %d of the plan pushes it): %w", c.Source, c.Shard, err)
		case time.Until(deadline) <= 0:
			return "", fmt.Errorf("base %s is pushed by shard %d of the plan, and the target registry did not hold %s within %s: "+
				"check that shard's run, then run this one again", c.Source, c.Shard, what, e.opts.shardWait)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(min(delay, time.Until(deadline))):
		}
	}
}

package diff

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/lock"
)

// Built is what the target registry holds for one build of the lock. The
// lock records a build's inputs, never its digest (apply does not write
// images.lock: the lock is reviewed input, not a record of pushes), so
// whoever deploys the built image reads its digest from the target.
type Built struct {
	Build lock.Build
	// Digest is what the build's target reference points at, when that
	// image carries the locked inputs in its io.imagesync.inputs label;
	// "" otherwise, and Problem says why.
	Digest  digest.Digest
	Problem string
}

// buildsAtOnce bounds the builds observed at once: each is a manifest
// read and its config blob (a few KiB to a MiB), heavier than a HEAD, and
// a repository has a handful of builds, so 8 reads them in one round.
const buildsAtOnce = 8

// ObserveBuilds reads, for each build, the digest its target reference
// points at and checks its inputs label against the lock: an image built
// from other inputs is not the one the lock describes. A registry that
// cannot be asked is an error; a missing or other image is a Problem.
func ObserveBuilds(ctx context.Context, obs Observer, builds []lock.Build) ([]Built, error) {
	out := make([]Built, len(builds))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(buildsAtOnce)
	for i, b := range builds {
		g.Go(func() error {
			c, err := observeBuild(gctx, obs, b)
			if err != nil {
				return err
			}
			out[i] = Built{Build: b}
			switch c.Action {
			case NoOp:
				out[i].Digest = c.CurrentDigest
			case Build:
				out[i].Problem = fmt.Sprintf("the target registry has no %s", b.Target)
			default:
				recorded := "records no inputs"
				if c.CurrentInputs != "" {
					recorded = "was built from inputs " + c.CurrentInputs
				}
				out[i].Problem = fmt.Sprintf("%s %s, not the locked %s", b.Target, recorded, b.Inputs)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

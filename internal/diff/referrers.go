package diff

import (
	"context"
	"fmt"

	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/referrers"
)

// observeReferrers turns an image in place into a Referrers change when
// some of its locked referrers are missing from the target, and leaves
// none to copy otherwise. t is asked only for an image whose lock pins
// referrers; nil refuses such an image.
func observeReferrers(ctx context.Context, t referrers.Target, img lock.Image, c *Change) error {
	c.Referrers = nil
	if len(img.Referrers) == 0 {
		return nil
	}
	if t == nil {
		return fmt.Errorf("check referrers of %s: the target registry cannot be asked for them", img.Ref)
	}
	missing, err := referrers.Missing(ctx, t, img.Target, img.Referrers)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		c.Action, c.Referrers = Referrers, missing
	}
	return nil
}

// WrittenTags are the tags apply writes for the change in its target's
// repository: the target's own tag for an image to create or update and
// for a build, then its referrers' (referrers.WrittenTags); fallback are
// the fallback tags of the subjects of OCI referrers, written only on a
// registry without the referrers API. None for a change apply leaves
// alone.
func (c Change) WrittenTags() (tags, fallback []string) {
	if c.Action == NoOp {
		return nil, nil
	}
	if c.Action != Referrers && c.Target.Tag() != "" {
		tags = append(tags, c.Target.Tag())
	}
	for _, w := range referrers.WrittenTags(c.Referrers) {
		if w.Fallback {
			fallback = append(fallback, w.Tag)
		} else {
			tags = append(tags, w.Tag)
		}
	}
	return tags, fallback
}

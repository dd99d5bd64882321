package apply

import (
	"context"
	"errors"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/registry"
)

// aliasOf reports whether the plan saw the digest c puts in the target
// (its TargetDigest) under another tag of c's target repository (an
// unchanged image): then the repository holds the whole image, with its
// referrers, and c, an image to copy, only needs its tag.
func (e *Engine) aliasOf(c diff.Change) bool {
	if c.Target.Tag() == "" || (c.Action != diff.Create && c.Action != diff.Update) {
		return false
	}
	for _, k := range e.opts.known {
		if k.Digest == c.TargetDigest() && k.Target != c.Target && k.Target.Repository() == c.Target.Repository() {
			return true
		}
	}
	return false
}

// copyAlias tags an image its target repository already holds under
// another tag, as the plan saw it: the manifest is read from the target
// repository by digest and PUT under the new tag; nothing is read from
// the source, no blob is sent. The plan is older than the target, and a
// tag on a manifest that is gone since would point at nothing, so the
// read is the existence check made again, now: when the manifest is gone
// (or cannot be read), the image is copied in full instead. done is false
// when the image is not an alias or must be copied in full.
func (e *run) copyAlias(ctx context.Context, c diff.Change, st *stats) (done bool, err error) {
	if !e.aliasOf(c) {
		return false, nil
	}
	j := &job{e: e, c: c, st: st, digest: c.Digest, targetRef: c.Target.Tag()}
	if j.dstEp, err = e.client.TargetRepository(c.Target); err != nil {
		return true, err
	}
	if j.dst, err = e.client.Repo(ctx, j.dstEp, registry.PushAccess); err != nil {
		return true, err
	}
	data, mediaType, err := j.dst.GetManifest(ctx, c.TargetDigest())
	var wait *registry.WaitTooLongError
	switch {
	case errors.As(err, &wait) || ctx.Err() != nil:
		return true, err
	case err != nil:
		e.opts.logger.Debug("the manifest the plan saw is not readable now, copying in full", "target", c.Target, "digest", c.TargetDigest().String(), "err", err)
		return false, nil
	}
	e.opts.progress.Sized(c, 0)
	stored, err := j.pushManifest(ctx, j.targetRef, mediaType, data)
	if err != nil {
		return true, err
	}
	return true, j.check(ctx, stored)
}

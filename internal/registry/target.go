package registry

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

// openTarget opens ref's target repository with access, holding one of
// the host's request slots until release is called.
func (c *Client) openTarget(ctx context.Context, ref imageref.Ref, access Access) (repo *Repo, release func(), err error) {
	ep, err := c.TargetRepository(ref)
	if err != nil {
		return nil, nil, err
	}
	return c.Open(ctx, ep, access)
}

// TargetTree reads the manifest tree d names in ref's target repository,
// recording in Manifest.Err the children it cannot read (an audit reports
// them all).
func (c *Client) TargetTree(ctx context.Context, ref imageref.Ref, d digest.Digest) (*Manifest, error) {
	repo, release, err := c.openTarget(ctx, ref, PullOnly)
	if err != nil {
		return nil, err
	}
	defer release()
	return repo.ReadTree(ctx, d, WithPartial())
}

// TargetHasBlob reports whether ref's target repository holds blob d.
func (c *Client) TargetHasBlob(ctx context.Context, ref imageref.Ref, d digest.Digest) (bool, error) {
	repo, release, err := c.openTarget(ctx, ref, PullOnly)
	if err != nil {
		return false, err
	}
	defer release()
	return repo.HasBlob(ctx, d)
}

package registry

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

// openTarget opens ref's target repository for reading, holding one of the
// host's request slots until release is called.
func (c *Client) openTarget(ctx context.Context, ref imageref.Ref) (repo *Repo, release func(), err error) {
	ep, err := c.TargetRepository(ref)
	if err != nil {
		return nil, nil, err
	}
	return c.Open(ctx, ep)
}

// TargetTree reads the manifest tree d names in ref's target repository,
// recording in Manifest.Err the children it cannot read (an audit reports
// them all).
func (c *Client) TargetTree(ctx context.Context, ref imageref.Ref, d digest.Digest) (*Manifest, error) {
	repo, release, err := c.openTarget(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer release()
	return repo.ReadTree(ctx, d, WithPartial())
}

// TargetHasBlob reports whether ref's target repository holds blob d.
func (c *Client) TargetHasBlob(ctx context.Context, ref imageref.Ref, d digest.Digest) (bool, error) {
	repo, release, err := c.openTarget(ctx, ref)
	if err != nil {
		return false, err
	}
	defer release()
	return repo.HasBlob(ctx, d)
}

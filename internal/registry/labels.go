package registry

import (
	"context"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

// TargetLabels returns what a target reference points at and the labels
// of its image config; for an index, those of its first platform image
// (builds label every platform alike). A missing reference is ErrNotFound.
func (c *Client) TargetLabels(ctx context.Context, ref imageref.Ref) (Head, map[string]string, error) {
	repo, release, err := c.openTarget(ctx, ref, PullOnly)
	if err != nil {
		return Head{}, nil, err
	}
	defer release()
	head, err := repo.HeadManifest(ctx, endpointRef(ref))
	if err != nil {
		return Head{}, nil, err
	}
	labels, err := repo.labels(ctx, head.Digest)
	if err != nil {
		return Head{}, nil, fmt.Errorf("read labels of %s: %w", ref, err)
	}
	return head, labels, nil
}

// labels reads the config labels of the image d names; for an index, of
// its first platform image (attestation manifests, "unknown/unknown", are
// not images).
func (r *Repo) labels(ctx context.Context, d digest.Digest) (map[string]string, error) {
	readNone := WithChildFilter(func(v1.Descriptor) bool { return false })
	for depth := 0; ; depth++ {
		tree, err := r.ReadTree(ctx, d, readNone)
		if err != nil {
			return nil, err
		}
		if !tree.IsIndex() {
			cfg, err := r.readConfig(ctx, tree.Blobs[0])
			if err != nil {
				return nil, err
			}
			return cfg.Config.Labels, nil
		}
		if depth >= MaxIndexDepth {
			return nil, fmt.Errorf("%s: index %s is nested more than %d deep: %w", r.ep.Repo, d, MaxIndexDepth, ErrLimit)
		}
		i := slices.IndexFunc(tree.Entries, func(c v1.Descriptor) bool { return c.Platform == nil || c.Platform.OS != "unknown" })
		if i < 0 {
			return nil, fmt.Errorf("index %s holds no image", d)
		}
		d = digest.Digest(tree.Entries[i].Digest.String())
	}
}

// Insecure reports whether the endpoint is spoken to over plain HTTP or
// without verifying its certificate, which builders must be told too.
func (e Endpoint) Insecure() bool { return e.insecure || e.Repo.Scheme() == "http" }

package registry

import (
	"bytes"
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

// TargetLabels returns what a target reference points at and the labels
// of its image config; for an index, those of its first platform image
// (builds label every platform alike). A missing reference is ErrNotFound.
func (c *Client) TargetLabels(ctx context.Context, ref imageref.Ref) (Head, map[string]string, error) {
	ep, err := c.TargetRepository(ref)
	if err != nil {
		return Head{}, nil, err
	}
	h, err := c.host(ep)
	if err != nil {
		return Head{}, nil, err
	}
	if err := h.acquire(ctx); err != nil {
		return Head{}, nil, err
	}
	defer h.release()
	repo, err := c.Repo(ctx, ep, false)
	if err != nil {
		return Head{}, nil, err
	}
	head, err := repo.HeadManifest(ctx, endpointRef(ref))
	if err != nil {
		return Head{}, nil, err
	}
	labels, err := repo.labels(ctx, head.Digest, 0)
	if err != nil {
		return Head{}, nil, fmt.Errorf("read labels of %s: %w", ref, err)
	}
	return head, labels, nil
}

func (r *Repo) labels(ctx context.Context, d digest.Digest, depth int) (map[string]string, error) {
	data, mt, err := r.GetManifest(ctx, d)
	if err != nil {
		return nil, err
	}
	if types.MediaType(mt).IsIndex() {
		if depth > 0 {
			return nil, fmt.Errorf("index %s nests another index", d)
		}
		im, err := v1.ParseIndexManifest(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		for _, m := range im.Manifests {
			if m.Platform != nil && m.Platform.OS == "unknown" {
				continue // an attestation manifest
			}
			return r.labels(ctx, digest.Digest(m.Digest.String()), depth+1)
		}
		return nil, fmt.Errorf("index %s holds no image", d)
	}
	m, err := v1.ParseManifest(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	cfg, err := r.readConfig(ctx, digest.Digest(m.Config.Digest.String()))
	if err != nil {
		return nil, err
	}
	return cfg.Config.Labels, nil
}

// Insecure reports whether the endpoint is spoken to over plain HTTP or
// without verifying its certificate, which builders must be told too.
func (e Endpoint) Insecure() bool { return e.insecure || e.Repo.Scheme() == "http" }

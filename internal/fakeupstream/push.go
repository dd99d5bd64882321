package fakeupstream

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/imageref"
)

// pushParallelism bounds PushAll: enough to overlap round trips, few
// enough not to swamp a two-core machine running the registries too.
const pushParallelism = 4

// Target is where img goes when hosts stand in for the upstream domains:
// the same repository path and tag on the loopback registry playing the
// reference's domain, over plain HTTP. hosts maps "docker.io" or
// "quay.io" to "127.0.0.1:PORT".
func Target(img Image, hosts map[string]string) (name.Tag, error) {
	r, err := imageref.Parse(img.Ref)
	if err != nil {
		return name.Tag{}, fmt.Errorf("finding push target for %s: %w", img.Ref, err)
	}
	host, ok := hosts[r.Domain()]
	if !ok {
		return name.Tag{}, fmt.Errorf("finding push target for %s: no stand-in registry for %s", img.Ref, r.Domain())
	}
	if r.Tag() == "" {
		return name.Tag{}, fmt.Errorf("finding push target for %s: an upstream image needs a tag", img.Ref)
	}
	tag, err := name.NewTag(host+"/"+r.Path()+":"+r.Tag(), name.Insecure)
	if err != nil {
		return name.Tag{}, fmt.Errorf("finding push target for %s on %s: %w", img.Ref, host, err)
	}
	return tag, nil
}

// Push generates img and pushes it to the stand-in registry of its domain
// (see Target), returning the digest of what the tag now points to,
// "sha256:...". opts go to go-containerregistry after ctx, so they may
// override the transport or add auth.
func Push(ctx context.Context, img Image, hosts map[string]string, opts ...remote.Option) (string, error) {
	tag, err := Target(img, hosts)
	if err != nil {
		return "", err
	}
	built, err := Build(img)
	if err != nil {
		return "", err
	}
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	if built.Index != nil {
		err = remote.WriteIndex(tag, built.Index, opts...)
	} else {
		err = remote.Write(tag, built.Image, opts...)
	}
	if err != nil {
		return "", fmt.Errorf("pushing %s to %s: %w", img.Ref, tag, err)
	}
	d, err := built.Digest()
	if err != nil {
		return "", fmt.Errorf("digest of %s: %w", img.Ref, err)
	}
	return d.String(), nil
}

// PushAll pushes imgs, four repositories at a time, and returns the first
// error; the other pushes are cancelled through the context.
//
// Images of the same repository (nginx:1.27-alpine and
// nginx:stable-alpine-perl) are pushed one after the other: they share
// layers, and docker-registry's filesystem storage rewrites a repository's
// layer link files in place, so two concurrent uploads of one blob into
// one repository occasionally fail with DIGEST_INVALID or
// MANIFEST_BLOB_UNKNOWN.
func PushAll(ctx context.Context, imgs []Image, hosts map[string]string, opts ...remote.Option) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(pushParallelism)
	for _, group := range byRepository(imgs) {
		g.Go(func() error {
			for _, img := range group {
				if _, err := Push(ctx, img, hosts, opts...); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("seeding upstream stand-ins: %w", err)
	}
	return nil
}

// byRepository groups imgs by upstream repository, keeping their order.
// An unparsable reference gets a group of its own; Push reports it.
func byRepository(imgs []Image) [][]Image {
	var groups [][]Image
	index := map[string]int{}
	for _, img := range imgs {
		key := "invalid:" + img.Ref
		if r, err := imageref.Parse(img.Ref); err == nil {
			key = r.Repository()
		}
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], img)
	}
	return groups
}

// domainOf is the registry domain of ref, "" when ref does not parse.
func domainOf(ref string) string {
	r, err := imageref.Parse(ref)
	if err != nil {
		return ""
	}
	return r.Domain()
}

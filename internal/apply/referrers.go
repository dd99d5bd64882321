package apply

import (
	"context"
	"fmt"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/registry"
)

// fallbackTries bounds the read-merge-write rounds on a fallback tag's
// index that another client keeps replacing at the same moment.
const fallbackTries = 5

// ReferrerFailure is a referrer that could not be copied, while the image
// it is attached to landed.
type ReferrerFailure struct {
	Artifact referrers.Artifact
	Err      error
}

// referrerStats counts one image's referrer copies.
type referrerStats struct {
	mu       sync.Mutex
	copied   int
	failures []ReferrerFailure
}

func (s *referrerStats) fail(a referrers.Artifact, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, ReferrerFailure{Artifact: a, Err: err})
}

func (s *referrerStats) done(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.copied += n
}

// copyReferrers copies the change's referrers after its image, by
// digest, with their exact bytes (the subject field in them), blobs first:
// OCI referrers by digest, cosign's classic ones under their tags. A
// target with the referrers API lists what was pushed with a subject; on
// one without it the fallback tag's index is merged. A referrer that
// fails is recorded, never failing the image, which has landed.
func (j *job) copyReferrers(ctx context.Context) {
	attach := map[digest.Digest][]v1.Descriptor{}
	bySubject := map[digest.Digest][]referrers.Artifact{}
	for _, a := range j.c.Referrers {
		desc, err := j.copyReferrer(ctx, a)
		switch {
		case err != nil:
			j.st.referrers.fail(a, err)
		case a.Via == referrers.ViaTag:
			j.st.referrers.done(1)
		default:
			attach[a.Subject] = append(attach[a.Subject], desc)
			bySubject[a.Subject] = append(bySubject[a.Subject], a)
		}
	}
	subjects := make([]digest.Digest, 0, len(attach))
	for s := range attach {
		subjects = append(subjects, s)
	}
	slices.Sort(subjects)
	for _, s := range subjects {
		if err := j.attach(ctx, s, attach[s]); err != nil {
			for _, a := range bySubject[s] {
				j.st.referrers.fail(a, err)
			}
			continue
		}
		j.st.referrers.done(len(bySubject[s]))
	}
}

// copyReferrer copies one referrer's manifest tree and returns how a
// referrers listing names it. An OCI referrer must name its locked
// subject: a registry's listing may list anything, the bytes are what
// they are.
func (j *job) copyReferrer(ctx context.Context, a referrers.Artifact) (v1.Descriptor, error) {
	m, err := j.src.ReadTree(ctx, a.Digest)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("read it from %s: %w", j.src.Endpoint(), err)
	}
	if a.Via == referrers.ViaReferrers {
		if err := referrers.CheckSubject(m.Data, a.Subject); err != nil {
			return v1.Descriptor{}, fmt.Errorf("read it from %s: %w", j.src.Endpoint(), err)
		}
	}
	ref := a.Digest.String()
	if a.Via == referrers.ViaTag {
		ref = a.Tag
	}
	if _, err := j.pushTree(ctx, m, ref); err != nil {
		return v1.Descriptor{}, fmt.Errorf("the target refused the artifact (%s): %w", a.ArtifactType, err)
	}
	return referrers.Descriptor(m.Data, m.MediaType)
}

// attach makes the target list descriptors as referrers of subject. A
// registry with the referrers API has listed them when they were pushed;
// on one without it, they are merged into the index tagged
// "sha256-<hex>": read, merge (every entry kept), write, read again, and
// merge again if another client replaced the index in between.
func (j *job) attach(ctx context.Context, subject digest.Digest, descs []v1.Descriptor) error {
	tag := registry.FallbackTag(subject)
	for range fallbackTries {
		list, err := j.dst.Referrers(ctx, subject)
		if err != nil {
			return err
		}
		if list.API {
			if referrers.Lists(list.Descriptors, descs) {
				return nil
			}
			return fmt.Errorf("the target's referrers API does not list them for %s after the push", imageref.ShortDigest(subject))
		}
		merged, changed, err := referrers.MergeIndex(list.Fallback, descs)
		if err != nil {
			return fmt.Errorf("%s:%s: %w", j.dst.Name(), tag, err)
		}
		if changed {
			if err := j.dst.PutManifest(ctx, tag, string(types.OCIImageIndex), merged); err != nil {
				return fmt.Errorf("update the referrers index: %w", err)
			}
		}
		now, err := j.dst.Referrers(ctx, subject)
		if err != nil {
			return err
		}
		if referrers.Lists(now.Descriptors, descs) {
			return nil
		}
		j.e.opts.logger.Debug("referrers index replaced concurrently, merging again", "tag", tag, "target", j.c.Target)
	}
	return fmt.Errorf("the referrers index %s:%s kept changing under other writers (%d tries)", j.dst.Name(), tag, fallbackTries)
}

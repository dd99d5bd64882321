package diff

import (
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/lock"
)

// NotCompared says that the plan compares images.lock with another lock
// (the base branch's), not with the target registry, which could not be
// read.
type NotCompared struct {
	// Reason is why the target was not compared: the registry's refusal
	// of a request without credentials.
	Reason string
	// BaseLock is the lock compared with instead, as named on the command
	// line.
	BaseLock string
}

// AgainstLock plans images.lock against base, the lock of the base
// branch, as if the target held exactly base's images: for a pull
// request that gets no credentials for the target (a fork's), what the
// change to images.lock would make apply do once merged. An image whose
// source base lacks, or maps to another target, is to create; one whose
// locked digest differs is to update; a build whose inputs differ is to
// rebuild. The plan is marked with nc; apply refuses to run it.
func AgainstLock(l *lock.Lock, lockSum digest.Digest, base *lock.Lock, nc NotCompared, opts Options) (*Plan, error) {
	images, builds, err := selectEntries(l, opts.Targets)
	if err != nil {
		return nil, err
	}
	if opts.SkipBuilds {
		builds = nil
	}
	p := &Plan{LockSHA256: lockSum, NotCompared: &nc}
	for _, img := range images {
		c := imageChange(img)
		prev := base.Image(img.Ref)
		switch {
		case prev == nil || prev.Target != img.Target:
			c.Action = Create
		case prev.Digest != img.Digest:
			c.Action, c.CurrentDigest = Update, prev.Digest
		default:
			c.Action, c.CurrentDigest = NoOp, prev.Digest
		}
		p.Changes = append(p.Changes, c)
	}
	for _, b := range builds {
		c := Change{Kind: KindBuild, Source: b.Ref, Target: b.Target, Services: slices.Clone(b.Services), Inputs: b.Inputs}
		prev := base.Build(b.Ref)
		switch {
		case prev == nil || prev.Target != b.Target:
			c.Action = Build
		case prev.Inputs != b.Inputs:
			c.Action, c.CurrentInputs = Rebuild, prev.Inputs.String()
		default:
			c.Action, c.CurrentInputs = NoOp, prev.Inputs.String()
		}
		p.Changes = append(p.Changes, c)
	}
	p.Summary = summarize(p.Changes)
	return p, nil
}

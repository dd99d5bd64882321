package diff

import (
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/referrers"
)

// LockChange says what a change of images.lock does to one image or build.
type LockChange string

const (
	// Added: the new lock pins an image or build the old one lacks.
	Added LockChange = "added"
	// Removed: the old lock's entry is gone (apply never deletes: the
	// target keeps what it holds).
	Removed LockChange = "removed"
	// DigestMoved: the image is pinned to another digest.
	DigestMoved LockChange = "digest"
	// Retargeted: the image or build goes to another target reference.
	Retargeted LockChange = "target"
	// InputsChanged: the build's inputs differ; apply rebuilds it.
	InputsChanged LockChange = "inputs"
	// ReferrersChanged: only the signatures, attestations or SBOMs pinned
	// with the image differ.
	ReferrersChanged LockChange = "referrers"
)

// LockEntry is one image or build whose entry differs between two locks:
// the change as AgainstLock plans it (the new lock against the old one
// standing for the target), what it was before, and the referrers pinned
// or dropped.
type LockEntry struct {
	Change    LockChange
	Plan      Change       // the new entry as planned; for Removed, the old entry
	OldTarget imageref.Ref // for Retargeted
	// ReferrersAdded and ReferrersRemoved are the artifacts the new lock
	// pins with the image that the old one did not, and the reverse.
	ReferrersAdded   []referrers.Artifact
	ReferrersRemoved []referrers.Artifact
}

// LockDiff is what replacing one images.lock with another does, read
// from the two locks alone, offline: what a reviewer of a pull request
// that a bot opened (a digest bump) wants to read.
type LockDiff struct {
	Entries []LockEntry // images, then builds, each sorted by reference
	// Unchanged counts the entries both locks pin alike.
	Unchanged int
}

// Count returns how many entries of kind changed so.
func (d *LockDiff) Count(kind Kind, change LockChange) int {
	n := 0
	for _, e := range d.Entries {
		if e.Plan.Kind == kind && e.Change == change {
			n++
		}
	}
	return n
}

// Locks compares two locks: the plan of next against old (AgainstLock,
// the model plan --base-lock uses), the entries old has and next lacks,
// and the referrers of the images both pin.
func Locks(old, next *lock.Lock) (*LockDiff, error) {
	p, err := AgainstLock(next, "", old, NotCompared{}, Options{})
	if err != nil {
		return nil, err
	}
	d := &LockDiff{}
	for _, c := range p.Changes {
		e := LockEntry{Plan: c}
		if c.Kind == KindImage {
			e = imageEntry(old, c)
		} else {
			e = buildEntry(old, c)
		}
		if e.Change == "" {
			d.Unchanged++
			continue
		}
		d.Entries = append(d.Entries, e)
	}
	for _, img := range old.Images {
		if next.Image(img.Ref) == nil {
			d.Entries = append(d.Entries, LockEntry{Change: Removed, Plan: imageChange(img)})
		}
	}
	for _, b := range old.Builds {
		if next.Build(b.Ref) == nil {
			d.Entries = append(d.Entries, LockEntry{Change: Removed,
				Plan: Change{Kind: KindBuild, Source: b.Ref, Target: b.Target, Services: slices.Clone(b.Services), Inputs: b.Inputs}})
		}
	}
	slices.SortStableFunc(d.Entries, func(a, b LockEntry) int {
		if a.Plan.Kind != b.Plan.Kind {
			if a.Plan.Kind == KindImage {
				return -1
			}
			return 1
		}
		switch {
		case imageref.Less(a.Plan.Source, b.Plan.Source):
			return -1
		case imageref.Less(b.Plan.Source, a.Plan.Source):
			return 1
		}
		return 0
	})
	return d, nil
}

// imageEntry classifies a planned image: added, retargeted, moved to
// another digest, or with other referrers; Change "" when alike.
func imageEntry(old *lock.Lock, c Change) LockEntry {
	e := LockEntry{Plan: c}
	prev := old.Image(c.Source)
	if prev == nil {
		e.Change = Added
		return e
	}
	e.ReferrersAdded = artifactsMissing(c.Referrers, prev.Referrers)
	e.ReferrersRemoved = artifactsMissing(prev.Referrers, c.Referrers)
	switch {
	case prev.Target != c.Target:
		e.Change, e.OldTarget = Retargeted, prev.Target
	case c.Action == Update:
		e.Change = DigestMoved
	case prev.TargetDigest() != c.TargetDigest():
		// The same upstream digest with another platform choice: the
		// target gets another filtered index.
		e.Change, e.Plan.CurrentDigest = DigestMoved, prev.TargetDigest()
	case len(e.ReferrersAdded)+len(e.ReferrersRemoved) > 0:
		e.Change = ReferrersChanged
	}
	return e
}

// buildEntry classifies a planned build: added, retargeted, or rebuilt for
// changed inputs; Change "" when alike.
func buildEntry(old *lock.Lock, c Change) LockEntry {
	e := LockEntry{Plan: c}
	prev := old.Build(c.Source)
	switch {
	case prev == nil:
		e.Change = Added
	case prev.Target != c.Target:
		e.Change, e.OldTarget = Retargeted, prev.Target
		e.Plan.CurrentInputs = prev.Inputs.String()
	case c.Action == Rebuild:
		e.Change = InputsChanged
	}
	return e
}

// artifactsMissing returns the artifacts of have that want lacks, by
// digest and subject.
func artifactsMissing(have, want []referrers.Artifact) []referrers.Artifact {
	type key struct{ digest, subject digest.Digest }
	seen := map[key]bool{}
	for _, a := range want {
		seen[key{a.Digest, a.Subject}] = true
	}
	var out []referrers.Artifact
	for _, a := range have {
		if !seen[key{a.Digest, a.Subject}] {
			out = append(out, a)
		}
	}
	return out
}

// Package diff compares images.lock, the desired state, with what the
// target registry holds, and produces a plan: typed actions, the lock's
// sha256 and what was observed on the target. The plan is data; rendering
// it is internal/view's job and carrying it out is internal/apply's.
package diff

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

// FormatVersion is the version of the plan's JSON form. It changes only
// when a field changes meaning or disappears; new fields may be added.
const FormatVersion = "1"

// Action is what apply will do to one target reference.
type Action string

const (
	// Create: the target reference does not exist.
	Create Action = "create"
	// Update: the target tag points at another digest.
	Update Action = "update"
	// NoOp: the target already points at the locked digest.
	NoOp Action = "no-op"
)

// Change is the plan for one locked image.
type Change struct {
	Action Action `json:"action"`
	Source string `json:"source"` // canonical source reference, as in the lock
	Target string `json:"target"`
	Digest string `json:"digest"` // the locked digest
	// CurrentDigest is what the target reference pointed at when the plan
	// was made; "" when it did not exist.
	CurrentDigest string   `json:"current_digest"`
	MediaType     string   `json:"media_type"`
	Platforms     []string `json:"platforms"`
}

// Summary counts the changes by action.
type Summary struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Unchanged int `json:"unchanged"`
}

// HasChanges reports whether applying would change anything.
func (s Summary) HasChanges() bool { return s.Create+s.Update > 0 }

// Plan is the whole plan. Its JSON form is what `plan --json` prints and
// what `plan --out` saves.
type Plan struct {
	FormatVersion string `json:"format_version"`
	// LockSHA256 is the sha256 of the images.lock bytes the plan was made
	// from; apply refuses a saved plan when the lock changed since.
	LockSHA256 string   `json:"lock_sha256"`
	Changes    []Change `json:"changes"` // every locked image in scope, sorted by source
	Summary    Summary  `json:"summary"`
}

// Observer is what planning needs from the target registry.
type Observer interface {
	// HeadTarget returns what a target reference points at, or an error
	// wrapping registry.ErrNotFound when it does not exist.
	HeadTarget(ctx context.Context, ref imageref.Ref) (registry.Head, error)
}

// Options control Make.
type Options struct {
	// Targets limits the plan to these references; each may name an
	// image's source or its target. Empty means every image.
	Targets []imageref.Ref
	// Jobs bounds the checks in flight; the registry client bounds each
	// host further. Default 32.
	Jobs int
}

// Make plans the changes that bring the target registry to the lock. It
// sends one HEAD per image to the target registry and nothing to any
// source registry: the lock is the desired state.
func Make(ctx context.Context, l *lock.Lock, lockSum digest.Digest, obs Observer, opts Options) (*Plan, error) {
	images, err := selectImages(l, opts.Targets)
	if err != nil {
		return nil, err
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 32
	}
	p := &Plan{FormatVersion: FormatVersion, LockSHA256: lockSum.String(), Changes: make([]Change, len(images))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Jobs)
	for i, img := range images {
		g.Go(func() error {
			c, err := observe(gctx, obs, img)
			if err != nil {
				return err
			}
			p.Changes[i] = c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	p.Summary = summarize(p.Changes)
	return p, nil
}

func observe(ctx context.Context, obs Observer, img lock.Image) (Change, error) {
	c := Change{Source: img.Ref.String(), Target: img.Target.String(), Digest: img.Digest.String(),
		MediaType: img.MediaType, Platforms: append([]string{}, img.Platforms...)}
	head, err := obs.HeadTarget(ctx, img.Target)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		c.Action = Create
	case err != nil:
		return Change{}, fmt.Errorf("check target %s of %s: %w", img.Target, img.Ref, err)
	case head.Digest == img.Digest:
		c.Action, c.CurrentDigest = NoOp, head.Digest.String()
	default:
		c.Action, c.CurrentDigest = Update, head.Digest.String()
	}
	return c, nil
}

// selectImages returns the lock's images in scope, refusing a --target
// that names nothing in the lock (a typo must not plan "no changes").
func selectImages(l *lock.Lock, targets []imageref.Ref) ([]lock.Image, error) {
	if len(targets) == 0 {
		return l.Images, nil
	}
	var out []lock.Image
	for _, t := range targets {
		found := false
		for _, img := range l.Images {
			if img.Ref == t || img.Target == t {
				out = append(out, img)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("--target %s: no image of images.lock has that source or target", t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return imageref.Less(out[i].Ref, out[j].Ref) })
	n := 0
	for i := range out {
		if i == 0 || out[i].Ref != out[n-1].Ref {
			out[n] = out[i]
			n++
		}
	}
	return out[:n], nil
}

func summarize(changes []Change) Summary {
	var s Summary
	for _, c := range changes {
		switch c.Action {
		case Create:
			s.Create++
		case Update:
			s.Update++
		default:
			s.Unchanged++
		}
	}
	return s
}

// Pending returns the changes apply acts on, in plan order.
func (p *Plan) Pending() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Action != NoOp {
			out = append(out, c)
		}
	}
	return out
}

// StaleError says why a saved plan can no longer be applied.
type StaleError struct{ Reasons []string }

func (e *StaleError) Error() string {
	msg := "saved plan is stale"
	for _, r := range e.Reasons {
		msg += "\n  " + r
	}
	return msg + "\nrun \"imagesync plan\" again"
}

// CheckStale compares a saved plan with the current lock and the target
// registry as it is now: a different lock, or a target that no longer
// points where the plan saw it, makes the plan stale.
func CheckStale(ctx context.Context, p *Plan, lockSum digest.Digest, obs Observer) error {
	if p.LockSHA256 != lockSum.String() {
		return &StaleError{Reasons: []string{fmt.Sprintf("images.lock changed since the plan was made (sha256 %s, plan was made from %s)",
			short(lockSum.String()), short(p.LockSHA256))}}
	}
	var mu sync.Mutex
	var reasons []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, c := range p.Changes {
		g.Go(func() error {
			ref, err := imageref.Parse(c.Target)
			if err != nil {
				return fmt.Errorf("saved plan: %w", err)
			}
			now := ""
			head, err := obs.HeadTarget(gctx, ref)
			switch {
			case errors.Is(err, registry.ErrNotFound):
			case err != nil:
				return fmt.Errorf("check target %s: %w", c.Target, err)
			default:
				now = head.Digest.String()
			}
			if now != c.CurrentDigest {
				mu.Lock()
				reasons = append(reasons, fmt.Sprintf("%s moved since the plan: %s -> %s", c.Target, orMissing(c.CurrentDigest), orMissing(now)))
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(reasons) > 0 {
		sort.Strings(reasons)
		return &StaleError{Reasons: reasons}
	}
	return nil
}

func orMissing(d string) string {
	if d == "" {
		return "(missing)"
	}
	return short(d)
}

func short(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

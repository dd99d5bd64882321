package diff

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/referrers"
)

// MismatchError refuses a saved plan that asks apply for something
// images.lock does not say: a target, a digest, a referrer or a build the
// lock does not hold. Problems name each change.
type MismatchError struct{ Problems []string }

func (e *MismatchError) Error() string {
	var b strings.Builder
	problems := "1 problem"
	if len(e.Problems) != 1 {
		problems = fmt.Sprintf("%d problems", len(e.Problems))
	}
	fmt.Fprintf(&b, "the saved plan does not match images.lock (%s); nothing was pushed", problems)
	for _, p := range e.Problems {
		b.WriteString("\n  " + p)
	}
	b.WriteString("\nthe plan file was changed after \"imagesync plan --out\" wrote it: make the plan again")
	return b.String()
}

// CheckAgainstLock checks a saved plan, change by change, against the
// lock it says it was made from, before anything is pushed. The plan file
// travels (a CI artifact from the plan job to the apply job) and only its
// lock_sha256 tied it to the lock: every change must be an entry of l,
// with the lock's target (which resolve.Check holds to images.hcl's naming),
// digest, media type, platforms, platform choice and filtered digest;
// referrers that the lock pins for it, as pinned; for a build, the lock's
// target, services and inputs; and, in a plan split into parts, the part
// ShardOf gives its target repository. An action that does not fit the
// kind, or an entry planned twice, is refused too. What the target held
// when the plan was made (CurrentDigest, CurrentInputs) is not the lock's
// to say: CheckStale asks the target again.
func CheckAgainstLock(p *Plan, l *lock.Lock) error {
	var problems []string
	seen := map[string]bool{}
	for i, c := range p.Changes {
		name := fmt.Sprintf("change %d (%s %s)", i+1, c.Kind, c.Source)
		key := string(c.Kind) + " " + c.Source.String()
		var found []string
		switch {
		case seen[key]:
			found = []string{"planned more than once"}
		case c.Kind == KindImage:
			found = checkImageChange(c, l.Image(c.Source))
		case c.Kind == KindBuild:
			found = checkBuildChange(c, l.Build(c.Source))
		default:
			found = []string{fmt.Sprintf("unknown kind %q", c.Kind)}
		}
		seen[key] = true
		if p.Shards > 0 && len(found) == 0 {
			if want := ShardOf(c.Target.Repository(), p.Shards); c.Shard != want {
				found = append(found, fmt.Sprintf("in part %d of %d, but its target repository goes to part %d", c.Shard, p.Shards, want))
			}
		}
		for _, f := range found {
			problems = append(problems, name+": "+f)
		}
	}
	if len(problems) > 0 {
		return &MismatchError{Problems: problems}
	}
	return nil
}

// checkImageChange lists how an image's change differs from its lock
// entry (nil when the lock has none).
func checkImageChange(c Change, img *lock.Image) []string {
	if img == nil {
		return []string{"images.lock has no such image"}
	}
	var out []string
	if !slices.Contains([]Action{Create, Update, NoOp, Referrers}, c.Action) {
		out = append(out, fmt.Sprintf("action %q is not one of an image", c.Action))
	}
	want := imageChange(*img)
	out = appendDiffer(out, "target", c.Target.String(), want.Target.String())
	out = appendDiffer(out, "digest", c.Digest.String(), want.Digest.String())
	out = appendDiffer(out, "target_digest", c.FilteredDigest.String(), want.FilteredDigest.String())
	out = appendDiffer(out, "media_type", c.MediaType, want.MediaType)
	out = appendDiffer(out, "platforms", strings.Join(c.Platforms, ", "), strings.Join(want.Platforms, ", "))
	out = appendDiffer(out, "platform_mode", string(c.PlatformMode), string(want.PlatformMode))
	out = appendDiffer(out, "mirrored_platforms", strings.Join(c.MirroredPlatforms, ", "), strings.Join(want.MirroredPlatforms, ", "))
	if len(c.Services)+len(c.Inputs)+len(c.CurrentInputs) > 0 {
		out = append(out, "an image has no services or inputs")
	}
	for _, a := range c.Referrers {
		if !slices.Contains(img.Referrers, a) {
			out = append(out, fmt.Sprintf("referrer %s (%s) is not pinned so in images.lock", a.Digest, tagOrSubject(a)))
		}
	}
	return out
}

// checkBuildChange lists how a build's change differs from its lock
// entry (nil when the lock has none).
func checkBuildChange(c Change, b *lock.Build) []string {
	if b == nil {
		return []string{"images.lock has no such build"}
	}
	var out []string
	if !slices.Contains([]Action{Build, Rebuild, NoOp}, c.Action) {
		out = append(out, fmt.Sprintf("action %q is not one of a build", c.Action))
	}
	out = appendDiffer(out, "target", c.Target.String(), b.Target.String())
	out = appendDiffer(out, "inputs", c.Inputs.String(), b.Inputs.String())
	out = appendDiffer(out, "services", strings.Join(c.Services, ", "), strings.Join(b.Services, ", "))
	if c.Digest != "" || c.FilteredDigest != "" || len(c.Referrers) > 0 || len(c.Platforms) > 0 || c.MediaType != "" ||
		c.PlatformMode != "" || len(c.MirroredPlatforms) > 0 {
		out = append(out, "a build has no digest, platforms or referrers of its own")
	}
	return out
}

// appendDiffer adds "field x, images.lock says y" when got is not want.
func appendDiffer(out []string, field, got, want string) []string {
	if got == want {
		return out
	}
	return append(out, fmt.Sprintf("%s %s, images.lock says %s", field, orNone(got), orNone(want)))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// tagOrSubject names where a referrer goes: its cosign tag, or its
// subject.
func tagOrSubject(a referrers.Artifact) string {
	if a.Via == referrers.ViaTag {
		return "tag " + a.Tag
	}
	return "of " + imageref.ShortDigest(a.Subject)
}

// checkSum refuses a plan made from another lock than the one of sum.
func checkSum(p *Plan, sum digest.Digest) error {
	if p.LockSHA256 == sum {
		return nil
	}
	return &StaleError{Reasons: []string{fmt.Sprintf("images.lock changed since the plan was made (sha256 %s, plan was made from %s)",
		imageref.ShortDigest(sum), imageref.ShortDigest(p.LockSHA256))}}
}

// CheckSaved checks a saved plan against the lockfile it is to be applied
// with, without asking any registry: made from these bytes
// (lock_sha256), and every change what the lock says (CheckAgainstLock).
func CheckSaved(p *Plan, f *lock.File) error {
	if err := checkSum(p, f.Sum()); err != nil {
		return err
	}
	return CheckAgainstLock(p, f.Lock)
}

package resolve

import (
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/fingerprint"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
)

// desired is what the config and the repository's files call for, before
// any digest is known: the lock's entries without digests and inputs.
type desired struct {
	images []lock.Image
	builds []lock.Build
	// fingerprints of the builds' own files, by build reference
	fingerprints map[imageref.Ref]digest.Digest
}

// want computes the desired entries: targets by the config's naming,
// target collisions refused, build fingerprints read from disk.
func want(cfg *config.Config, found *discover.Result) (*desired, error) {
	d := &desired{fingerprints: map[imageref.Ref]digest.Digest{}}
	targets := map[imageref.Ref]imageref.Ref{} // target -> source
	var collisions []string
	claim := func(src, target imageref.Ref) {
		if prev, ok := targets[target]; ok {
			a, b := prev, src
			if imageref.Less(b, a) {
				a, b = b, a
			}
			collisions = append(collisions, fmt.Sprintf("%s and %s both map to %s", a, b, target))
			return
		}
		targets[target] = src
	}
	for _, img := range found.Images {
		target, err := cfg.TargetFor(img.Ref)
		if err != nil {
			return nil, err
		}
		claim(img.Ref, target)
		d.images = append(d.images, lock.Image{Ref: img.Ref, Target: target, Sources: img.Sources})
	}
	for i := range found.Builds {
		b := &found.Builds[i]
		target, err := cfg.TargetFor(b.Ref)
		if err != nil {
			return nil, err
		}
		claim(b.Ref, target)
		fp, err := fingerprintOf(cfg.Dir, b)
		if err != nil {
			return nil, err
		}
		d.fingerprints[b.Ref] = fp
		d.builds = append(d.builds, lock.Build{Ref: b.Ref, Services: b.Services, Context: b.Context,
			Dockerfile: b.Dockerfile, TargetStage: b.TargetStage, Bases: b.Bases, Target: target})
	}
	if len(collisions) > 0 {
		sort.Strings(collisions)
		return nil, fmt.Errorf("target collision: %s; give one of each pair its own target with an image block, e.g. image \"<ref>\" { target = \"other/name:tag\" }",
			strings.Join(collisions, "; "))
	}
	return d, nil
}

// fingerprintOf hashes what the build's own files decide about its output
// (see fingerprint.Sum); the services, sources and bases of the build are
// not part of it.
func fingerprintOf(root string, b *discover.Build) (digest.Digest, error) {
	fp, err := fingerprint.Sum(root, fingerprint.Build{Dockerfile: b.Dockerfile, Inline: b.Inline, Context: b.Context,
		Args: b.Args, Target: b.TargetStage, Platforms: b.Platforms, LocalContexts: b.LocalContexts})
	if err != nil {
		return "", fmt.Errorf("fingerprint %s: %w", b.Ref, err)
	}
	return fp, nil
}

// fillInputs sets every build's inputs: its fingerprint and, for each base,
// the locked digest of the image or, for a base built by the repository,
// that build's own inputs, so that a change anywhere below a build
// changes its inputs too.
func fillInputs(l *lock.Lock, fingerprints map[imageref.Ref]digest.Digest) error {
	byRef := map[imageref.Ref]*lock.Build{}
	for i := range l.Builds {
		byRef[l.Builds[i].Ref] = &l.Builds[i]
	}
	state := map[imageref.Ref]int{} // 1 = in progress, 2 = done
	var visit func(b *lock.Build, path []string) error
	visit = func(b *lock.Build, path []string) error {
		switch state[b.Ref] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("builds depend on each other in a cycle: %s", strings.Join(append(path, b.Ref.String()), " -> "))
		}
		state[b.Ref] = 1
		var sb strings.Builder
		fmt.Fprintf(&sb, "fingerprint %s\n", fingerprints[b.Ref])
		for _, base := range b.Bases {
			pin := "unlocked"
			if dep, ok := byRef[base]; ok {
				if err := visit(dep, append(path, b.Ref.String())); err != nil {
					return err
				}
				pin = "build " + dep.Inputs.String()
			} else if img := l.Image(base); img != nil {
				pin = img.Digest.String()
			}
			fmt.Fprintf(&sb, "base %s %s\n", base, pin)
		}
		b.Inputs = digest.FromString(sb.String())
		state[b.Ref] = 2
		return nil
	}
	for i := range l.Builds {
		if err := visit(&l.Builds[i], nil); err != nil {
			return err
		}
	}
	return nil
}

// Check compares a lock with what the config and files call for, without
// any network I/O, and lists every difference: references missing from
// the lock or no longer used, moved targets or sources, changed build
// inputs. An empty list means the lock is up to date.
func Check(cfg *config.Config, found *discover.Result, locked *lock.Lock) ([]lock.Change, error) {
	d, err := want(cfg, found)
	if err != nil {
		return nil, err
	}
	expected := &lock.Lock{Images: d.images, Builds: d.builds}
	for i := range expected.Images {
		img := &expected.Images[i]
		if prev := locked.Image(img.Ref); prev != nil {
			img.Digest, img.MediaType, img.Platforms = prev.Digest, prev.MediaType, prev.Platforms
			keepScope(img, prev, cfg.PlatformsFor(img.Ref), cfg.ReferrersFor(img.Ref))
		}
	}
	expected.Normalize()
	if err := fillInputs(expected, d.fingerprints); err != nil {
		return nil, err
	}
	// Diff(locked, expected): "+" is what the lock lacks, "-" what it has
	// in excess.
	return lock.Diff(locked, expected), nil
}

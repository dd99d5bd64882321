// Package render writes what a deployment needs to run the stack from the
// target registry by the digests that were reviewed in images.lock: a
// compose override file (Compose), KEY=reference lines (Env) and a JSON
// list for scripts (JSON). Each is a pure function from the lock, what
// discovery found and the digests the target holds (Pins) to bytes;
// reading the target and writing files are the caller's job.
//
// Every reference written is <target repository>@<digest>, by digest
// only, so that no tag moved in the target can change what runs.
package render

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
)

// imagePin is one image of the lock as a deployment pulls it from the target.
type imagePin struct {
	Source imageref.Ref // as images.lock names it
	Target imageref.Ref // the lock's target reference, with its tag
	// Digest is what the target holds for the image: the lock's target
	// digest for a mirrored image, the digest read from the target for a
	// build; "" for a build whose target image was not built from the
	// locked inputs, and Problem says why.
	Digest  digest.Digest
	Problem string
	// Services are the compose services that build the image; nil for a
	// mirrored image.
	Services []string
}

// Ref is the reference to deploy: the target repository by digest.
func (p imagePin) Ref() string { return p.Target.Repository() + "@" + p.Digest.String() }

// isBuild reports whether the repository builds the image.
func (p imagePin) isBuild() bool { return p.Services != nil }

// Pins are the images of a lock as deployments pull them.
type Pins struct {
	all []imagePin // mirrored images, then builds, each sorted by source
}

// NewPins joins the lock's images with what the target holds for its
// builds. Builds missing from built are left out: the caller reads only
// the builds it needs.
func NewPins(l *lock.Lock, built []diff.Built) *Pins {
	ps := &Pins{}
	for _, img := range l.Images {
		ps.all = append(ps.all, imagePin{Source: img.Ref, Target: img.Target, Digest: img.TargetDigest()})
	}
	builds := slices.Clone(built)
	slices.SortFunc(builds, func(a, b diff.Built) int { return imageref.Compare(a.Build.Ref, b.Build.Ref) })
	for _, b := range builds {
		ps.all = append(ps.all, imagePin{Source: b.Build.Ref, Target: b.Build.Target, Digest: b.Digest, Problem: b.Problem,
			Services: slices.Clone(b.Build.Services)})
	}
	return ps
}

// lookup returns the pin of a locked image or build by its source reference.
func (ps *Pins) lookup(ref imageref.Ref) (imagePin, bool) {
	for _, p := range ps.all {
		if p.Source == ref {
			return p, true
		}
	}
	return imagePin{}, false
}

// builtBy returns the pin of the build a compose service runs.
func (ps *Pins) builtBy(service string) (imagePin, bool) {
	for _, p := range ps.all {
		if slices.Contains(p.Services, service) {
			return p, true
		}
	}
	return imagePin{}, false
}

// notBuiltError lists the builds whose image in the target is not the one
// the lock describes: what runs from the mirror must be what was reviewed,
// so nothing is written until apply has built them.
type notBuiltError struct {
	// What names each build as the output knows it ("service backend",
	// "REDIS_IMAGE", "docker.io/library/web:v1"), with its problem.
	What, Problems []string
}

func (e *notBuiltError) Error() string {
	var b strings.Builder
	b.WriteString("the target registry holds no image built from the locked inputs for:")
	for i := range e.What {
		fmt.Fprintf(&b, "\n  %s: %s", e.What[i], e.Problems[i])
	}
	b.WriteString("\nrun \"imagesync apply\" first, then render again")
	return b.String()
}

// add records one more build that is not in the target.
func (e *notBuiltError) add(what, problem string) {
	e.What, e.Problems = append(e.What, what), append(e.Problems, problem)
}

// err returns e when it lists anything, else nil.
func (e *notBuiltError) err() error {
	if len(e.What) == 0 {
		return nil
	}
	return e
}

package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/opencontainers/go-digest"
)

// ImageList is the model of `imagesync images`, locked or discovered.
type ImageList struct {
	Images []ImageEntry `json:"images"`
	Builds []BuildEntry `json:"builds"`
	// TargetDigests is set when the entries say what the target holds
	// (images --target-digests).
	TargetDigests bool `json:"-"`
	// Discovered is set for what discovery finds (images --discovered):
	// no digest, no platforms yet.
	Discovered bool `json:"-"`
}

// ImageEntry is one image to mirror. Digest fields are empty for images
// only discovered.
type ImageEntry struct {
	Reference string   `json:"reference"`
	Digest    string   `json:"digest,omitempty"`
	MediaType string   `json:"media_type,omitempty"`
	Platforms []string `json:"platforms"`
	Target    string   `json:"target,omitempty"`
	Sources   []string `json:"sources"`
	// TargetDigest is the digest to deploy the image by from the target
	// (images --target-digests).
	TargetDigest string `json:"target_digest,omitempty"`
}

// BuildEntry is one image the repository builds.
type BuildEntry struct {
	Reference string `json:"reference"`
	// Services are the compose services that build the image, sorted;
	// Service is the first of them.
	Services    []string `json:"services"`
	Service     string   `json:"service"`
	Context     string   `json:"context"`
	Dockerfile  string   `json:"dockerfile"`
	TargetStage string   `json:"target_stage,omitempty"`
	Bases       []string `json:"bases"`
	Target      string   `json:"target,omitempty"`
	Inputs      string   `json:"inputs,omitempty"`
	Sources     []string `json:"sources,omitempty"`
	// TargetDigest is what the build's target reference points at, read
	// from the target when that image carries the locked inputs
	// (images --target-digests); else TargetProblem says why not.
	TargetDigest  string `json:"target_digest,omitempty"`
	TargetProblem string `json:"target_problem,omitempty"`
}

// LockedImages is the list of a lockfile.
func LockedImages(l *lock.Lock) ImageList {
	list := ImageList{Images: []ImageEntry{}, Builds: []BuildEntry{}}
	for _, img := range l.Images {
		list.Images = append(list.Images, ImageEntry{Reference: img.Ref.String(), Digest: img.Digest.String(),
			MediaType: img.MediaType, Platforms: nonNil(img.Platforms), Target: img.Target.String(), Sources: nonNil(img.Sources)})
	}
	for _, b := range l.Builds {
		e := BuildEntry{Reference: b.Ref.String(), Services: nonNil(b.Services), Service: first(b.Services), Context: b.Context,
			Dockerfile: b.Dockerfile, TargetStage: b.TargetStage, Bases: []string{}, Target: b.Target.String(), Inputs: b.Inputs.String()}
		for _, base := range b.Bases {
			e.Bases = append(e.Bases, base.String())
		}
		list.Builds = append(list.Builds, e)
	}
	return list
}

// WithTargetDigests adds to a lock's list the digest each image has in the
// target: the lock's target digest for a mirrored image, the digest read
// from the target for a build (diff.ObserveBuilds).
func WithTargetDigests(list ImageList, l *lock.Lock, built []diff.Built) ImageList {
	list.TargetDigests = true
	for i := range list.Images {
		list.Images[i].TargetDigest = l.Images[i].TargetDigest().String()
	}
	for i := range list.Builds {
		for _, b := range built {
			if b.Build.Ref.String() == list.Builds[i].Reference {
				list.Builds[i].TargetDigest, list.Builds[i].TargetProblem = b.Digest.String(), b.Problem
			}
		}
	}
	return list
}

// DiscoveredImages is the list of what discovery found, before locking,
// each with the target images.hcl gives it (targetFor: config.TargetFor).
func DiscoveredImages(r *discover.Result, targetFor func(imageref.Ref) (imageref.Ref, error)) ImageList {
	list := ImageList{Images: []ImageEntry{}, Builds: []BuildEntry{}, Discovered: true}
	target := func(ref imageref.Ref) string {
		if t, err := targetFor(ref); err == nil {
			return t.String()
		}
		return ""
	}
	for _, img := range r.Images {
		list.Images = append(list.Images, ImageEntry{Reference: img.Ref.String(), Platforms: []string{}, Target: target(img.Ref),
			Sources: nonNil(img.Sources)})
	}
	for _, b := range r.Builds {
		e := BuildEntry{Reference: b.Ref.String(), Services: nonNil(b.Services), Service: first(b.Services), Context: b.Context,
			Dockerfile: b.Dockerfile, TargetStage: b.TargetStage, Bases: []string{}, Target: target(b.Ref), Sources: nonNil(b.Sources)}
		for _, base := range b.Bases {
			e.Bases = append(e.Bases, base.String())
		}
		list.Builds = append(list.Builds, e)
	}
	return list
}

// first is the first of a build's services, or "".
func first(services []string) string {
	if len(services) == 0 {
		return ""
	}
	return services[0]
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// WriteImagesJSON writes the list as one indented JSON document.
func WriteImagesJSON(w io.Writer, list ImageList) error {
	enc := json.NewEncoder(safeJSON(w))
	enc.SetIndent("", "  ")
	return enc.Encode(list)
}

// WriteImagesTable writes the list as a table: one row per image, then one
// per build, with the places each was found (one per line).
func WriteImagesTable(w io.Writer, list ImageList) error {
	if list.Discovered {
		return writeDiscoveredTable(w, list)
	}
	rows := make([][]string, 0, len(list.Images)+len(list.Builds))
	for _, img := range list.Images {
		short := orDash(imageref.ShortDigest(digest.Digest(img.Digest)))
		rows = append(rows, []string{img.Reference, short, orDash(strings.Join(img.Platforms, ",")),
			orDash(img.Target), strings.Join(img.Sources, "\n"), imageref.ShortDigest(digest.Digest(img.TargetDigest))})
	}
	for _, b := range list.Builds {
		sources := append([]string{ServicesLabel(b.Services)}, b.Sources...)
		inTarget := imageref.ShortDigest(digest.Digest(b.TargetDigest))
		if b.TargetProblem != "" {
			inTarget = "not built from the locked inputs"
		}
		rows = append(rows, []string{b.Reference, "build", "-", orDash(b.Target), strings.Join(sources, "\n"), inTarget})
	}
	header := []string{"REFERENCE", "DIGEST", "PLATFORMS", "TARGET", "FROM", "TARGET DIGEST"}
	if !list.TargetDigests {
		header = header[:5]
		for i := range rows {
			rows[i] = rows[i][:5]
		}
	}
	return table(w, header, rows)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// refWidth is the widest a reference is shown in the table of what
// discovery finds; a longer one is folded after a "/" (a digest shortened
// first), so that lines stay readable in a terminal and a CI log. The
// JSON keeps every reference whole.
const refWidth = 40

// writeDiscoveredTable writes what discovery finds: each image and build
// with its target and the places it was found at, builds marked in FROM
// by the services that build them. It has no DIGEST and PLATFORMS columns,
// which only a lock fills in. The targets' common registry and namespace
// is said once, above the table, and left out of the TARGET column.
func writeDiscoveredTable(w io.Writer, list ImageList) error {
	var targets []string
	for _, img := range list.Images {
		targets = append(targets, img.Target)
	}
	for _, b := range list.Builds {
		targets = append(targets, b.Target)
	}
	under := commonDir(targets)
	target := func(t string) string { return orDash(foldRef(strings.TrimPrefix(t, under))) }
	rows := make([][]string, 0, len(list.Images)+len(list.Builds))
	for _, img := range list.Images {
		rows = append(rows, []string{foldRef(img.Reference), target(img.Target), strings.Join(img.Sources, "\n")})
	}
	for _, b := range list.Builds {
		from := append([]string{"build: " + ServicesLabel(b.Services)}, b.Sources...)
		rows = append(rows, []string{foldRef(b.Reference), target(b.Target), strings.Join(from, "\n")})
	}
	if under != "" {
		if _, err := fmt.Fprintf(w, "Targets are under %s (TARGET shows the rest).\n", under); err != nil {
			return err
		}
	}
	return table(w, []string{"REFERENCE", "TARGET", "FROM"}, rows)
}

// commonDir is the longest prefix, ending in "/", that every one of refs
// has; "" when there is none or a ref is empty.
func commonDir(refs []string) string {
	if len(refs) == 0 {
		return ""
	}
	prefix := refs[0]
	for _, r := range refs {
		if r == "" {
			return ""
		}
		for !strings.HasPrefix(r, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		return prefix[:i+1]
	}
	return ""
}

// foldRef shows a reference on lines of at most refWidth characters where
// it can: its digest shortened to 12 hex digits ("…" marks the cut), then
// the rest broken after a "/", and a name too long for a line before its
// ":tag".
func foldRef(ref string) string {
	if len(ref) <= refWidth {
		return ref
	}
	if name, d, ok := strings.Cut(ref, "@"); ok {
		if short := imageref.ShortDigest(digest.Digest(d)); short != d {
			ref = name + "@" + short + "…"
		}
	}
	var parts []string
	for rest := ref; rest != ""; {
		part, tail, found := strings.Cut(rest, "/")
		if found {
			part += "/"
		}
		rest = tail
		if name, tag, ok := strings.Cut(part, ":"); ok && !found && len(part) > refWidth {
			parts = append(parts, name, ":"+tag)
			continue
		}
		parts = append(parts, part)
	}
	var lines []string
	line := ""
	for i, part := range parts {
		// A ":tag" split off its name starts a line of its own.
		if line != "" && (len(line)+len(part) > refWidth || (i > 0 && strings.HasPrefix(part, ":") && !strings.HasSuffix(parts[i-1], "/"))) {
			lines, line = append(lines, line), ""
		}
		line += part
	}
	return strings.Join(append(lines, line), "\n")
}

package view

import (
	"encoding/json"
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

// DiscoveredImages is the list of what discovery found, before locking.
func DiscoveredImages(r *discover.Result) ImageList {
	list := ImageList{Images: []ImageEntry{}, Builds: []BuildEntry{}}
	for _, img := range r.Images {
		list.Images = append(list.Images, ImageEntry{Reference: img.Ref.String(), Platforms: []string{}, Sources: nonNil(img.Sources)})
	}
	for _, b := range r.Builds {
		e := BuildEntry{Reference: b.Ref.String(), Services: nonNil(b.Services), Service: first(b.Services), Context: b.Context,
			Dockerfile: b.Dockerfile, TargetStage: b.TargetStage, Bases: []string{}, Sources: nonNil(b.Sources)}
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

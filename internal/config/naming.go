package config

import (
	"fmt"
	"path"
	"strings"

	"github.com/imagesync/imagesync/internal/imageref"
)

// splitHost splits "host[:port]/ns/..." into the host and the rest.
func splitHost(s string) (host, rest string) {
	host, rest, _ = strings.Cut(s, "/")
	return host, rest
}

// overrideHost is the registry host an image block's target names, ""
// when it names none and is a path under target.registry. As docker reads
// a reference, the first element is a host only when more elements
// follow and it has a dot or a port, or is localhost: "app1:1" is the
// repository app1 with the tag 1 under target.registry, never
// docker.io/library/app1:1 (a public registry), and a target is never
// normalized to Docker Hub.
func overrideHost(target string) string {
	first, rest, ok := strings.Cut(target, "/")
	if ok && rest != "" && imageref.LooksLikeHost(first) {
		return first
	}
	return ""
}

// validateOverride checks an image block's target attribute.
func validateOverride(target string) error {
	full := target
	if overrideHost(target) == "" {
		full = "registry.invalid/" + target
	}
	if _, err := imageref.ParseName(full); err != nil {
		return fmt.Errorf("%q is neither a path under target.registry nor a full reference: %v", target, err)
	}
	return nil
}

// TargetFor returns where src is mirrored to. An image block's target
// overrides the layout: a path under target.registry unless its first
// element is a host (overrideHost); an override without tag or digest
// keeps the source's. A reference pinned by digest only keeps its digest.
func (c *Config) TargetFor(src imageref.Ref) (imageref.Ref, error) {
	var name string
	if block := c.ImageBlock(src); block != nil && block.Target != "" {
		name = block.Target
		if overrideHost(name) == "" {
			name = c.Target.Registry + "/" + name
		}
	} else {
		name = c.Target.Registry + "/" + c.targetPath(src)
	}
	ref, err := imageref.ParseName(name)
	if err != nil {
		return imageref.Ref{}, fmt.Errorf("target for %s: %w", src, err)
	}
	if ref.IsNameOnly() {
		suffix := ":" + src.Tag()
		if src.Tag() == "" {
			suffix = "@" + src.Digest().String()
		}
		if ref, err = imageref.ParseName(name + suffix); err != nil {
			return imageref.Ref{}, fmt.Errorf("target for %s: %w", src, err)
		}
	}
	return ref, nil
}

// targetPath is the repository path of src under target.registry.
func (c *Config) targetPath(src imageref.Ref) string {
	p := src.Path()
	if c.Target.Layout == LayoutFlat {
		return path.Base(p)
	}
	if src.Domain() == "docker.io" {
		return strings.TrimPrefix(p, "library/")
	}
	return p
}

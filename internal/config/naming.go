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

// validateOverride checks an image block's target attribute.
func validateOverride(target string) error {
	full := target
	if first, _ := splitHost(target); !imageref.LooksLikeHost(first) {
		full = "registry.invalid/" + target
	}
	if _, err := imageref.ParseName(full); err != nil {
		return fmt.Errorf("%q is neither a path under target.registry nor a full reference: %v", target, err)
	}
	return nil
}

// TargetFor returns where src is mirrored to. An image block's target
// overrides the layout; an override without tag or digest keeps the
// source's. A reference pinned by digest only keeps its digest.
func (c *Config) TargetFor(src imageref.Ref) (imageref.Ref, error) {
	var name string
	if block := c.ImageBlock(src); block != nil && block.Target != "" {
		name = block.Target
		if first, _ := splitHost(name); !imageref.LooksLikeHost(first) {
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

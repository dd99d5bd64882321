package dockerfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/platforms"

	"github.com/imagesync/imagesync/internal/excerpt"
)

// defaultPlatform is the platform assumed when Options.Platform is
// empty. It is fixed, not the host's, so that results never depend on the
// machine the scan runs on.
const defaultPlatform = "linux/amd64"

// platform is a normalized "os/arch[/variant]" platform.
type platform struct{ os, arch, variant string }

func (p platform) String() string {
	if p.variant == "" {
		return p.os + "/" + p.arch
	}
	return p.os + "/" + p.arch + "/" + p.variant
}

// parsePlatform parses an "os/arch[/variant]" platform and normalizes it
// with containerd's platforms package, as BuildKit does. It accepts only
// explicit os/arch pairs: containerd fills a missing part from the host,
// which would make results depend on the machine.
func parsePlatform(s string) (platform, error) {
	if s == "" {
		s = defaultPlatform
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") || strings.ContainsAny(s, "() \t") {
		return platform{}, fmt.Errorf("invalid platform %s: want os/arch[/variant], e.g. linux/arm64", excerpt.Quote(s))
	}
	p, err := platforms.Parse(s)
	if err != nil {
		return platform{}, fmt.Errorf("invalid platform %s: %w", excerpt.Quote(s), excerpt.Reason(err))
	}
	p = platforms.Normalize(p)
	return platform{os: p.OS, arch: p.Architecture, variant: p.Variant}, nil
}

// checkPlatformFlag rejects a FROM --platform value that BuildKit's
// platform parser (containerd's platforms.Parse) rejects. Only validity is
// checked: the value selects a variant of the image, not another image.
func checkPlatformFlag(s string) error {
	if s == "" {
		return errors.New("empty platform value")
	}
	if _, err := platforms.Parse(s); err != nil {
		return fmt.Errorf("invalid platform %s: %w", excerpt.Quote(s), excerpt.Reason(err))
	}
	return nil
}

// platformArgs returns BuildKit's predefined global arguments (see
// dockerfile2llb.defaultArgs). The build platform is the target platform, as
// in BuildKit when only a target platform is given. Unlike ordinary ARGs,
// BuildKit lets any build argument override these without a declaration.
func platformArgs(p platform, buildArgs map[string]string, target string) *argEnv {
	if target == "" {
		target = "default"
	}
	defaults := [...][2]string{
		{"BUILDPLATFORM", p.String()},
		{"BUILDOS", p.os},
		{"BUILDOSVERSION", ""},
		{"BUILDARCH", p.arch},
		{"BUILDVARIANT", p.variant},
		{"TARGETPLATFORM", p.String()},
		{"TARGETOS", p.os},
		{"TARGETOSVERSION", ""},
		{"TARGETARCH", p.arch},
		{"TARGETVARIANT", p.variant},
		{"TARGETSTAGE", target},
	}
	env := newArgEnv()
	for _, kv := range defaults {
		v := kv[1]
		if o, ok := buildArgs[kv[0]]; ok {
			v = o
		}
		env.set(kv[0], v)
	}
	return env
}

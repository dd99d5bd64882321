package dockerfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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

// parsePlatform parses an "os/arch[/variant]" platform and normalizes it the
// way containerd's platforms package (which BuildKit uses) does. It accepts
// only explicit os/arch pairs: containerd fills a missing part from the host,
// which would make results depend on the machine.
func parsePlatform(s string) (platform, error) {
	if s == "" {
		s = defaultPlatform
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") || strings.ContainsAny(s, "() \t") {
		return platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant], e.g. linux/arm64", s)
	}
	p := platform{os: strings.ToLower(parts[0])}
	if p.os == "macos" {
		p.os = "darwin"
	}
	variant := ""
	if len(parts) == 3 {
		variant = parts[2]
	}
	p.arch, p.variant = normalizeArch(parts[1], variant)
	return p, nil
}

// normalizeArch mirrors containerd's platforms.normalizeArch so that
// TARGETARCH and TARGETVARIANT get the values BuildKit gives them.
func normalizeArch(arch, variant string) (string, string) {
	arch, variant = strings.ToLower(arch), strings.ToLower(variant)
	switch arch {
	case "i386":
		return "386", ""
	case "x86_64", "x86-64", "amd64":
		if variant == "v1" {
			variant = ""
		}
		return "amd64", variant
	case "aarch64", "arm64":
		if variant == "8" || variant == "v8" {
			variant = ""
		}
		return "arm64", variant
	case "armhf":
		return "arm", "v7"
	case "armel":
		return "arm", "v6"
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
	}
	return arch, variant
}

// checkPlatformFlag rejects a FROM --platform value that BuildKit's
// platform parser (containerd's platforms.Parse) rejects. Only validity is
// checked: the value selects a variant of the image, not another image.
func checkPlatformFlag(s string) error {
	if s == "" {
		return errors.New("empty platform value")
	}
	parts := strings.SplitN(s, "/", 4)
	if strings.Contains(s, "*") || len(parts) > 3 {
		return fmt.Errorf("invalid platform %q", s)
	}
	for i, part := range parts {
		extra := "_.-"
		if i == 0 {
			// "<os>[(<os version>[+<os feature>]...)]"
			if name, opts, ok := strings.Cut(part, "("); ok {
				opts, closed := strings.CutSuffix(opts, ")")
				if !closed || (opts != "" && !isPlatformWord(opts, "_.%-+")) {
					return fmt.Errorf("invalid platform %q: invalid OS component %q", s, part)
				}
				part = name
			}
			extra = "_-"
		}
		if !isPlatformWord(part, extra) {
			return fmt.Errorf("invalid platform %q: invalid component %q", s, part)
		}
	}
	if len(parts) == 1 {
		arch, _ := normalizeArch(parts[0], "")
		if !isKnownOS(strings.ToLower(parts[0])) && !isKnownArch(arch) {
			return fmt.Errorf("invalid platform %q: unknown operating system or architecture", s)
		}
	}
	return nil
}

// isPlatformWord reports whether s is a non-empty run of ASCII letters,
// digits and the characters in extra.
func isPlatformWord(s, extra string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && !strings.ContainsRune(extra, r) {
			return false
		}
	}
	return true
}

// isKnownOS is containerd's list (go/build's syslist) of operating systems,
// which decides what a single-word platform means.
func isKnownOS(os string) bool {
	switch os {
	case "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl",
		"netbsd", "openbsd", "plan9", "solaris", "windows", "zos", "macos":
		return true
	}
	return false
}

// isKnownArch is containerd's list of normalized architectures.
func isKnownArch(arch string) bool {
	switch arch {
	case "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le", "loong64", "mips",
		"mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "riscv", "riscv64", "s390", "s390x",
		"sparc", "sparc64", "wasm":
		return true
	}
	return false
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

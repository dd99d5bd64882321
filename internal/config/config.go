// Package config reads images.hcl, the file in which a repository says where
// its images go (the target registry), how to find them (compose files,
// Dockerfiles, Helm charts, Kubernetes manifests, kustomizations), how to reach upstream registries (mirrors, TLS) and which
// images to add, rename or leave out.
//
// Every user error is an hcl.Diagnostic with the source range it concerns,
// and decoding collects all of them instead of stopping at the first.
package config

import (
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"

	"github.com/imagesync/imagesync/internal/imageref"
)

// DefaultFilename is the config file read when no --config is given.
const DefaultFilename = "images.hcl"

// Layout decides how a source reference is mapped under target.registry.
type Layout string

const (
	// LayoutNested keeps the repository path: Docker Hub images keep their
	// organisation and drop "library/", other registries drop the host.
	LayoutNested Layout = "nested"
	// LayoutFlat keeps only the last path element, for registries that allow
	// a single level under the namespace (Aliyun ACR personal edition).
	LayoutFlat Layout = "flat"
)

// Config is a decoded images.hcl.
type Config struct {
	// Filename is the config path as the user named it, used in messages.
	Filename string
	// Dir is the absolute directory of the config file; every relative
	// path in the config, and every path discovery reports, is relative to it.
	Dir string

	Target     Target
	Discover   Discover
	Builder    Builder
	Render     Render
	Registries map[string]*Registry // by host
	Images     []*Image             // in file order
	// Exclude is the top-level exclude: globs on canonical references, or
	// on the places images are found at (locators, as in images.lock).
	Exclude []Pattern
	// Referrers is the top-level referrers block; nil when absent.
	Referrers *Referrers
}

// Builder is the builder block: how the repository's own images are built.
type Builder struct {
	// Kind is "buildx" (docker buildx build, the default) or "buildah".
	Kind string
	// Platforms to build for; nil means the builder's own platform.
	Platforms []string
	// Args are extra arguments passed to the builder.
	Args  []string
	Range hcl.Range // of the block, or of the file when absent
}

// Target is the target block: where every image is mirrored to.
type Target struct {
	// Registry is host[:port][/namespace...], without a trailing slash.
	Registry string
	Layout   Layout
	Range    hcl.Range // of the registry attribute
	// Platforms mirrored of every image (nil: all) and how (PlatformMode,
	// "" when not set); image blocks may override both.
	Platforms    []string
	PlatformMode PlatformMode
	modeRange    hcl.Range
}

// Host is the registry host of the target ("registry.example.com:5000").
func (t Target) Host() string {
	host, _ := splitHost(t.Registry)
	return host
}

// Discover is the discover block: where images are looked for.
type Discover struct {
	// Compose lists compose files relative to Dir, merged in order, the
	// files of one project; nil means compose's default file names found in
	// Dir (when there are no ComposeProjects).
	Compose []string
	// EnvFiles lists env files for the interpolation of Compose's project;
	// nil means ".env" in Dir when present.
	EnvFiles []string
	// ComposeProjects are the compose_project blocks, in file order: each
	// an independent project. Never set together with Compose or EnvFiles.
	ComposeProjects []*ComposeProject
	Env             map[string]string // every project's; wins over env files
	UseOSEnv        bool              // the OS environment is read only when true
	// Dockerfiles are doublestar globs of further Dockerfiles to scan.
	Dockerfiles []Pattern
	// Exclude are doublestar globs of paths never scanned by the
	// Dockerfiles and Kubernetes globs.
	Exclude   []Pattern
	BuildArgs map[string]string
	// DockerfileTargets narrows a Dockerfile of Dockerfiles that no compose
	// service builds to the stages one target stage reaches, by its clean
	// slash path relative to Dir. A Dockerfile without an entry counts
	// every stage, since it may be built with any --target.
	DockerfileTargets map[string]DockerfileTarget
	// Helm are the charts to render, one release per helm block, in file
	// order.
	Helm []*HelmRelease
	// Kubernetes are doublestar globs of plain manifest files.
	Kubernetes []Pattern
	// Kustomize are kustomization directories relative to Dir, each built
	// as `kustomize build` does; KustomizeRange is the attribute's.
	Kustomize      []string
	KustomizeRange hcl.Range
}

// DockerfileTarget is an entry of discover.dockerfile_targets.
type DockerfileTarget struct {
	Stage string
	Range hcl.Range // of the entry's key, for diagnostics
}

// Pattern is a glob with the place it was written, for diagnostics.
type Pattern struct {
	Glob  string
	Range hcl.Range
}

// Registry is a registry block: how to reach one registry host.
type Registry struct {
	Host     string
	Mirrors  []Mirror // tried in order before Host itself
	Insecure bool     // plain HTTP, or HTTPS without certificate verification
	CAFile   string   // absolute path of an extra root CA, or ""
	Range    hcl.Range
}

// Mirror is a read-through endpoint standing in for a registry host.
type Mirror struct {
	URL string // as written
	// Host is host[:port] of the mirror; Prefix is a repository path
	// prefix on it ("" or e.g. "dockerhub-proxy").
	Host   string
	Prefix string
	// Insecure is true for http:// mirrors.
	Insecure bool
}

// Image is an image block: an extra image, or an override of a discovered one.
type Image struct {
	Ref imageref.Ref
	// Target overrides the target reference: a path under target.registry,
	// or a full reference when its first element is a host. "" keeps the
	// layout's naming.
	Target      string
	Range       hcl.Range // of the block header
	TargetRange hcl.Range
	// Referrers overrides the top-level referrers block; nil when absent.
	Referrers *Referrers
	// Platforms overrides target.platforms when not nil (empty: every
	// platform); PlatformMode overrides target.platform_mode when set.
	Platforms    []string
	PlatformMode PlatformMode
}

// Locator is the stable place an image block is declared, as it appears in
// images.lock sources.
func (i *Image) Locator(configName string) string {
	return filepath.ToSlash(filepath.Base(configName)) + "#image." + i.Ref.String()
}

// Registry returns the settings for a registry host; a host without a block
// gets the defaults, with plain HTTP for loopback hosts as docker does.
func (c *Config) Registry(host string) Registry {
	if r, ok := c.Registries[host]; ok {
		return *r
	}
	return Registry{Host: host}
}

// RegistryHosts returns the hosts that have a registry block, sorted.
func (c *Config) RegistryHosts() []string {
	hosts := make([]string, 0, len(c.Registries))
	for h := range c.Registries {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts
}

// ImageBlock returns the image block for ref, or nil.
func (c *Config) ImageBlock(ref imageref.Ref) *Image {
	for _, img := range c.Images {
		if img.Ref == ref {
			return img
		}
	}
	return nil
}

// Path makes a path from the config (or one relative to its directory)
// absolute.
func (c *Config) Path(rel string) string {
	if filepath.IsAbs(rel) {
		return filepath.Clean(rel)
	}
	return filepath.Join(c.Dir, filepath.FromSlash(rel))
}

package scaffold

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/dockerfile"
)

// Discovery is the discover block init writes for a repository.
type Discovery struct {
	// Projects are the compose projects; those with LeftOut set are
	// written commented out (other projects' code, a project that fails
	// to load).
	Projects []ComposeProject
	// NoCompose is set when the root has a compose file by a default name
	// and no compose_project block is proposed (the root's is left out):
	// `compose = []` keeps discovery from loading that file by default.
	// With a block, discovery loads only the blocks' projects (and the
	// attribute beside blocks is an error).
	NoCompose   bool
	Dockerfiles []string // doublestar globs covering every Dockerfile found
	BuildArgs   []BuildArg
	Exclude     []Exclude
	Helm        []HelmRelease // LeftOut set: commented out
	Kustomize   []KustomizeDir
	Kubernetes  []string // doublestar globs of the manifest files
	// LeftOut are the files not proposed, each with the reason.
	LeftOut []LeftOut
	// Vendored are the directories of other projects' code.
	Vendored []Vendored

	root   string
	loaded []*discover.ComposeProject // by project; nil: not loaded
}

// Exclude is a discover.exclude entry and why init proposes it.
type Exclude struct {
	Pattern string
	Why     string
}

// KustomizeDir is a discover.kustomize entry: an overlay, with the bases
// it reaches.
type KustomizeDir struct {
	Dir   string
	Bases []string
	// LeftOut, when set, is why the entry is proposed commented out.
	LeftOut string
}

// Propose decides what init writes for the repository Scan found under
// root, and loads each source as discovery would (see check.go). The
// libraries it calls print on their own: Init captures their output.
// The Helm releases render as the options say (WithHelmSandbox).
func Propose(ctx context.Context, root string, r *Repo, opts ...Option) *Discovery {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	d := &Discovery{Vendored: r.Vendored, LeftOut: slices.Clone(r.LeftOut), root: root}
	d.compose(ctx, root, r)
	scans := d.dockerfileScans(r)
	var failing []LeftOut
	d.BuildArgs, failing = proposeBuildArgs(scans, r.sources)
	changedBy(d.BuildArgs, scans)
	// The globs cover the Dockerfiles that scan: a file named like one
	// that is none (DockerfileNotes.txt) does not widen them.
	d.Dockerfiles = dockerfileGlobs(slices.DeleteFunc(slices.Clone(r.Dockerfiles), func(f string) bool {
		return slices.ContainsFunc(failing, func(l LeftOut) bool { return l.Path == f })
	}))
	d.excludes(root, r, failing)
	d.kube(r)
	checkKube(ctx, root, o.helm, d.Helm, d.Kustomize, r.helmValues)
	slices.SortFunc(d.LeftOut, func(a, b LeftOut) int { return strings.Compare(a.Path, b.Path) })
	return d
}

// compose groups the compose files into projects, the repository's own
// and, commented out, other projects' code's, and loads each.
func (d *Discovery) compose(ctx context.Context, root string, r *Repo) {
	var own, vendored []ComposeFile
	for _, f := range r.Compose {
		if f.Vendored != "" {
			vendored = append(vendored, f)
		} else {
			own = append(own, f)
		}
	}
	projects, left := composeProjects(own, r.EnvFiles)
	others, _ := composeProjects(vendored, nil)
	for i := range others {
		others[i].LeftOut = "vendored (" + vendoredWhy(r.Vendored, others[i].Files[0]) + "), not this repository's project"
	}
	d.Projects = append(projects, others...)
	uniqueNames(d.Projects)
	d.LeftOut = append(d.LeftOut, left...)
	byPath := map[string]ComposeFile{}
	for _, f := range r.Compose {
		byPath[f.Path] = f
	}
	d.loaded, left = loadProjects(ctx, reader{root: root}, d.Projects, byPath)
	d.LeftOut = append(d.LeftOut, left...)
	active := slices.ContainsFunc(d.loaded, func(p *discover.ComposeProject) bool { return p != nil })
	for _, f := range own {
		if isComposeName(f.Path) && !active {
			d.NoCompose = true // a root default file discovery would load alone
		}
	}
}

// vendoredWhy says why the directory a file is in is other projects'
// code: "under third_party/", "in libs/x, a git submodule".
func vendoredWhy(vendored []Vendored, file string) string {
	for _, v := range vendored {
		if under(file, v.Dir) {
			return v.Why
		}
	}
	return "other projects' code"
}

// dockerfileScans lists how each Dockerfile is built: by each compose
// service that builds it (its arguments, its target), and alone (every
// stage) when no loaded project builds it.
func (d *Discovery) dockerfileScans(r *Repo) []dockerfileScan {
	rd := reader{root: d.root}
	var scans []dockerfileScan
	built := map[string]bool{}
	for i, p := range d.loaded {
		if p == nil {
			continue
		}
		for _, svc := range p.Services {
			b := svc.Build
			if b == nil || b.Dockerfile == "" {
				continue
			}
			data, err := rd.read(b.Dockerfile)
			if err != nil {
				continue // discovery reports it with the project
			}
			built[b.Dockerfile] = true
			opts := dockerfile.Options{Path: b.Dockerfile, BuildArgs: b.Args, Target: b.Target}
			if len(b.Platforms) > 0 {
				opts.Platform = b.Platforms[0]
			}
			scans = append(scans, dockerfileScan{File: b.Dockerfile, Data: data, Opts: opts, Service: d.Projects[i].Name + " " + svc.Name})
		}
	}
	for _, f := range r.Dockerfiles {
		if built[f] {
			continue
		}
		if data, err := rd.read(f); err == nil {
			scans = append(scans, dockerfileScan{File: f, Data: data, Opts: dockerfile.Options{Path: f, AllStages: true}})
		}
	}
	return scans
}

// excludes proposes the exclude entries the dockerfiles globs need: the
// templates and backups they match, the Dockerfiles that fail to scan,
// the directories of other projects' code and of dependencies that hold
// Dockerfiles. An entry that would match nothing is not written.
func (d *Discovery) excludes(root string, r *Repo, failing []LeftOut) {
	matched := func(file string) bool {
		for _, g := range d.Dockerfiles {
			if ok, _ := doublestar.Match(g, file); ok {
				return true
			}
		}
		return false
	}
	for _, f := range r.Leftovers {
		if !matched(f) {
			continue
		}
		pattern := "**/*" + leftoverSuffix(path.Base(f))
		if !slices.ContainsFunc(d.Exclude, func(e Exclude) bool { return e.Pattern == pattern }) {
			d.Exclude = append(d.Exclude, Exclude{Pattern: pattern, Why: "templates and backups of Dockerfiles"})
		}
	}
	for _, l := range failing {
		switch {
		case matched(l.Path):
			d.Exclude = append(d.Exclude, Exclude{Pattern: l.Path, Why: l.Reason})
			d.LeftOut = append(d.LeftOut, l)
		case conventionalDockerfile(path.Base(l.Path)):
			d.LeftOut = append(d.LeftOut, l)
		}
	}
	for _, v := range r.Vendored {
		if slices.ContainsFunc(r.VendoredDockerfiles, func(f string) bool { return under(f, v.Dir) && matched(f) }) {
			d.Exclude = append(d.Exclude, Exclude{Pattern: v.Dir, Why: "other projects' code (" + v.Why + ")"})
		}
	}
	for _, dir := range r.SkippedDirs {
		pattern := "**/" + path.Base(dir)
		if slices.Contains(vcsDirs, path.Base(dir)) || slices.ContainsFunc(d.Exclude, func(e Exclude) bool { return e.Pattern == pattern }) {
			continue
		}
		if hasDockerfile(root, dir, matched) {
			d.Exclude = append(d.Exclude, Exclude{Pattern: pattern, Why: "dependencies: other projects' Dockerfiles"})
		}
	}
	for _, f := range r.Leftovers {
		d.LeftOut = append(d.LeftOut, LeftOut{Path: f, Reason: leftoverReason(path.Base(f))})
	}
}

// leftoverReason says what a template or backup is: a compose template
// gets the hint discovery gives for one.
func leftoverReason(name string) string {
	suffix := leftoverSuffix(name)
	stem := strings.TrimSuffix(name, suffix)
	switch {
	case suffix == ".tpl" && !isDockerfile(stem):
		return composeTemplateHint
	case suffix == ".tpl":
		return "a Dockerfile template the repository renders itself: render it first, and scan the rendered file"
	}
	return "a backup (" + suffix + ")"
}

// hasDockerfile reports whether a directory init did not walk (node_modules)
// holds a file the dockerfiles globs match. Only names are read.
func hasDockerfile(root, dir string, matched func(string) bool) bool {
	found := false
	_ = filepath.WalkDir(filepath.Join(root, filepath.FromSlash(dir)), func(p string, e fs.DirEntry, err error) error {
		if err != nil || found {
			return filepath.SkipAll
		}
		if rel, err := filepath.Rel(root, p); err == nil && !e.IsDir() && matched(filepath.ToSlash(rel)) {
			found = true
		}
		return nil
	})
	return found
}

// kube proposes the charts, overlays and manifest globs.
func (d *Discovery) kube(r *Repo) {
	var own []Chart
	for _, c := range r.Charts {
		if c.Vendored == "" {
			own = append(own, c)
		}
	}
	d.Helm = helmReleases(own)
	for _, c := range r.Charts {
		if c.Vendored != "" {
			h := helmReleases([]Chart{c})[0]
			h.LeftOut = "vendored (" + vendoredWhy(r.Vendored, c.Dir) + "), not this repository's chart"
			d.Helm = append(d.Helm, h)
		}
	}
	byDir := map[string]Kustomization{}
	for _, k := range r.Kustomizations {
		byDir[k.Dir] = k
	}
	for _, k := range overlays(r.Kustomizations) {
		var bases []string
		for _, b := range reachedFrom(k.Dir, byDir) {
			if byDir[b].Kind != "Component" {
				bases = append(bases, b)
			}
		}
		d.Kustomize = append(d.Kustomize, KustomizeDir{Dir: k.Dir, Bases: bases, LeftOut: kustomizeLeftOut(k, byDir)})
	}
	d.Kubernetes = manifestGlobs(r.tree, r.Manifests)
}

// String is the entry as init's output and comments say it.
func (l LeftOut) String() string { return fmt.Sprintf("%s: %s", l.Path, l.Reason) }

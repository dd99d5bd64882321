package scaffold

import (
	"maps"
	"path"
	"slices"
	"strings"
)

// tree is the shape of the walked repository that the kubernetes globs
// are cut to: every directory, every YAML file, and the directories a
// glob must not reach into.
type tree struct {
	subdirs map[string][]string // directory -> its subdirectories walked
	yaml    map[string][]string // directory -> the .yaml/.yml files in it
	// closed are directories whose YAML is not plain manifests: charts,
	// kustomizations, other projects' code, skipped directories.
	closed map[string]bool
}

// manifestGlobs returns the doublestar globs that match exactly the
// manifest files: "dir/**/*.yaml" for the largest directories in which
// every YAML file, at any depth, is a manifest; "dir/*.yaml" for a
// directory whose other YAML files are elsewhere; the file itself when its
// directory mixes manifests and other YAML.
func manifestGlobs(t tree, manifests []string) []string {
	isManifest := map[string]bool{}
	for _, m := range manifests {
		isManifest[m] = true
	}
	pure := map[string]bool{}
	var purity func(dir string) bool
	purity = func(dir string) bool {
		ok := !t.closed[dir]
		for _, f := range t.yaml[dir] {
			ok = ok && isManifest[f]
		}
		for _, sub := range t.subdirs[dir] {
			ok = purity(sub) && ok
		}
		pure[dir] = ok
		return ok
	}
	purity(".")
	var globs []string
	seen := map[string]bool{}
	for _, m := range manifests {
		dir := path.Dir(m)
		top := ""
		for d := dir; pure[d]; d = path.Dir(d) {
			top = d
			if d == "." {
				break
			}
		}
		var add []string
		if top != "" {
			add = subtreeGlobs(t, top, manifests)
		} else {
			add = dirGlobs(t, dir, isManifest, m)
		}
		for _, g := range add {
			if !seen[g] {
				seen[g] = true
				globs = append(globs, g)
			}
		}
	}
	slices.Sort(globs)
	return globs
}

// subtreeGlobs globs every manifest under a pure directory.
func subtreeGlobs(t tree, top string, manifests []string) []string {
	deep := false
	exts := map[string]bool{}
	for _, m := range manifests {
		if under(path.Dir(m), dirPrefix(top)) {
			exts[path.Ext(m)] = true
			deep = deep || path.Dir(m) != top
		}
	}
	pattern := "*" + extPattern(exts)
	if deep {
		pattern = "**/" + pattern
	}
	return []string{join(top, pattern)}
}

// dirGlobs globs the manifests of a directory that also holds other
// YAML below it: "dir/*.yaml" when every .yaml file in it is a manifest,
// else the file m itself.
func dirGlobs(t tree, dir string, isManifest map[string]bool, m string) []string {
	ext := path.Ext(m)
	for _, f := range t.yaml[dir] {
		if path.Ext(f) == ext && !isManifest[f] {
			return []string{m}
		}
	}
	return []string{join(dir, "*"+ext)}
}

// extPattern is ".yaml", ".yml" or ".{yaml,yml}".
func extPattern(exts map[string]bool) string {
	if len(exts) == 1 {
		return slices.Collect(maps.Keys(exts))[0]
	}
	return ".{yaml,yml}"
}

// dirPrefix is a directory as under takes it ("" for the root).
func dirPrefix(dir string) string {
	if dir == "." {
		return ""
	}
	return dir
}

// isCIFile reports whether a file configures CI (workflows, pipelines)
// or builds images by script: read for the build arguments it passes,
// never scanned for images, which are its jobs', not the deployment's.
func isCIFile(rel string) bool {
	name := path.Base(rel)
	switch {
	case strings.HasPrefix(rel, ".github/workflows/"), strings.HasPrefix(rel, ".gitlab/"), strings.HasPrefix(rel, ".circleci/"),
		strings.HasPrefix(rel, ".buildkite/"), strings.HasPrefix(rel, ".woodpecker/"):
		return isYAMLName(name)
	}
	return slices.Contains([]string{".gitlab-ci.yml", ".travis.yml", "azure-pipelines.yml", "bitbucket-pipelines.yml",
		"cloudbuild.yaml", "cloudbuild.yml", ".drone.yml", ".woodpecker.yml", "Jenkinsfile"}, name)
}

// isBuildScript reports whether a file is a script that may pass build
// arguments to docker build: a Makefile or a shell script.
func isBuildScript(name string) bool {
	return name == "Makefile" || name == "makefile" || strings.HasSuffix(name, ".mk") || strings.HasSuffix(name, ".sh")
}

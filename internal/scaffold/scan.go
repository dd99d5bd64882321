// Package scaffold writes a first images.hcl for a repository that has
// none. Scan walks the tree once and notes what each file is (compose
// files, Dockerfiles, charts, kustomizations, manifests, CI files, other
// projects' code, templates and backups); Propose decides what to
// propose (compose projects, globs, releases, build arguments) and
// checks each source with the loader discovery uses; Render writes the
// commented config, one section after another.
package scaffold

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"

	"github.com/imagesync/imagesync/internal/kustomize"
)

// Repo is what Scan found. Paths are slash-separated, relative to the root
// and sorted.
type Repo struct {
	// Compose are the compose files, each read alone: the repository's
	// own and, with Vendored set, other projects'.
	Compose []ComposeFile
	// Dockerfiles are the repository's files named Dockerfile,
	// Dockerfile.* or *.Dockerfile, less templates, backups and
	// .dockerignore files.
	Dockerfiles []string
	// VendoredDockerfiles are those under Vendored directories.
	VendoredDockerfiles []string
	// Leftovers are templates and backups of Dockerfiles and compose files
	// ("Dockerfile.tpl", "docker-compose.yml.bak").
	Leftovers []string
	// SkippedDirs are the directories not walked into: version control
	// metadata, dependencies and caches (node_modules, .venv, ...).
	SkippedDirs []string
	// Vendored are the directories of other projects' code: walked, but
	// nothing in them is proposed as the repository's own.
	Vendored []Vendored
	// Charts are the Helm charts, subcharts left out.
	Charts []Chart
	// Kustomizations are the directories holding a kustomization file.
	Kustomizations []Kustomization
	// Manifests are the files of Kubernetes objects outside charts,
	// kustomize trees and other projects' code.
	Manifests []string
	// EnvFiles are the .env files.
	EnvFiles []string
	// CIFiles are CI configuration and build scripts: read for the build
	// arguments they pass, never scanned for images.
	CIFiles []string
	// LeftOut are the files that look like sources but are not proposed,
	// each with the reason.
	LeftOut []LeftOut

	tree       tree
	sources    []valueSource  // where build arguments' values may come from
	helmValues []scriptValues // values files scripts pass to helm
}

// Vendored is a directory of other projects' code.
type Vendored struct {
	Dir string
	Why string // "under third_party/", "in libs/x, a git submodule"
}

// LeftOut is a file init does not propose, and why.
type LeftOut struct {
	Path   string
	Reason string
}

// skipDirs are directories that never hold the repository's own images:
// version control metadata, dependencies and tool caches. They are not
// walked.
var skipDirs = []string{".git", ".hg", ".svn", "node_modules", "bower_components",
	".venv", "venv", "__pycache__", ".tox", ".terraform", ".cache", ".imagesync"}

// vcsDirs are the skipped directories that need no exclude: no glob ever
// finds a Dockerfile in them.
var vcsDirs = []string{".git", ".hg", ".svn"}

// vendorDirs name directories of other projects' code copied into the
// repository, walked to say what they hold.
var vendorDirs = []string{"third_party", "third-party", "thirdparty", "vendor", "vendored", "external", "externals", "extern"}

// leftoverSuffixes mark templates and backups: not files to scan, although
// "Dockerfile*" globs match them.
var leftoverSuffixes = []string{".tpl", ".bak", ".backup", ".orig"}

// Scan walks the tree under root, without following symbolic links to
// directories, and notes what it finds.
func Scan(ctx context.Context, root string) (*Repo, error) {
	w := newWalker(root)
	if err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return w.dir(rel, d.Name())
		}
		if isFile(p, d) {
			w.file(rel)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	return w.finish(), nil
}

// walker is the state of one Scan.
type walker struct {
	rd         reader
	repo       *Repo
	submodules map[string]bool
	dirs       map[string]bool
	chartDirs  map[string]bool
	values     map[string][]string
	kustomize  map[string]string // directory -> its kustomization file
	yamlFiles  []string          // candidates: compose files or manifests
	vendorYAML []string          // compose-named files of other projects
	scripts    []string
}

func newWalker(root string) *walker {
	rd := reader{root: root}
	return &walker{rd: rd, repo: &Repo{tree: tree{subdirs: map[string][]string{}, yaml: map[string][]string{}, closed: map[string]bool{}}},
		submodules: submodules(rd), dirs: map[string]bool{".": true}, chartDirs: map[string]bool{}, values: map[string][]string{},
		kustomize: map[string]string{}}
}

// dir notes a directory, and says whether to walk into it.
func (w *walker) dir(rel, name string) error {
	if rel == "." {
		return nil
	}
	t := &w.repo.tree
	t.subdirs[path.Dir(rel)] = append(t.subdirs[path.Dir(rel)], rel)
	if slices.Contains(skipDirs, name) {
		w.repo.SkippedDirs = append(w.repo.SkippedDirs, rel)
		t.closed[rel] = true
		return filepath.SkipDir
	}
	w.dirs[rel] = true
	if w.vendorOf(rel) == "" {
		switch {
		case w.submodules[rel]:
			w.repo.Vendored = append(w.repo.Vendored, Vendored{Dir: rel, Why: "in " + rel + ", a git submodule"})
			t.closed[rel] = true
		case slices.Contains(vendorDirs, strings.ToLower(name)):
			w.repo.Vendored = append(w.repo.Vendored, Vendored{Dir: rel, Why: "under " + name + "/"})
			t.closed[rel] = true
		}
	}
	return nil
}

// file notes what a file is by its name and place.
func (w *walker) file(rel string) {
	dir, name := path.Dir(rel), path.Base(rel)
	vendored := w.vendorOf(rel) != ""
	if isYAMLName(name) {
		w.repo.tree.yaml[dir] = append(w.repo.tree.yaml[dir], rel)
	}
	switch {
	case isLeftover(name):
		if !vendored {
			w.repo.Leftovers = append(w.repo.Leftovers, rel)
		}
	case isDockerfile(name) && vendored:
		w.repo.VendoredDockerfiles = append(w.repo.VendoredDockerfiles, rel)
	case isDockerfile(name):
		w.repo.Dockerfiles = append(w.repo.Dockerfiles, rel)
	case name == "Chart.yaml":
		w.chartDirs[dir] = true
		w.repo.tree.closed[dir] = true
	case kustomize.IsKustomizationFile(name):
		w.repo.tree.closed[dir] = true
		if !vendored {
			w.kustomize[dir] = rel
		}
	case vendored:
		if composeName(name) {
			w.vendorYAML = append(w.vendorYAML, rel)
		}
	case isCIFile(rel):
		w.repo.CIFiles = append(w.repo.CIFiles, rel)
	case isBuildScript(name):
		w.scripts = append(w.scripts, rel)
	case name == ".env":
		w.repo.EnvFiles = append(w.repo.EnvFiles, rel)
	case isYAMLName(name):
		if isValuesFile(name) {
			w.values[dir] = append(w.values[dir], name)
		}
		w.yamlFiles = append(w.yamlFiles, rel)
	}
}

// vendorOf returns the directory of other projects' code rel is in, or "".
func (w *walker) vendorOf(rel string) string {
	for _, v := range w.repo.Vendored {
		if under(rel, v.Dir) {
			return v.Dir
		}
	}
	return ""
}

// gitmodulesPath matches the path of a submodule in .gitmodules.
var gitmodulesPath = regexp.MustCompile(`(?m)^\s*path\s*=\s*(.+?)\s*$`)

// submodules reads the paths of the git submodules .gitmodules lists.
func submodules(rd reader) map[string]bool {
	out := map[string]bool{}
	data, err := rd.read(".gitmodules")
	if err != nil {
		return out
	}
	for _, m := range gitmodulesPath.FindAllStringSubmatch(string(data), -1) {
		out[path.Clean(strings.Trim(m[1], `"`))] = true
	}
	return out
}

// isFile reports whether a directory entry is a regular file, or a
// symbolic link to one.
func isFile(p string, d fs.DirEntry) bool {
	if d.Type().IsRegular() {
		return true
	}
	if d.Type()&fs.ModeSymlink == 0 {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// isDockerfile reports whether a file name is one a dockerfiles glob
// matches: Dockerfile, Dockerfile.prod, Dockerfile-dev, web.Dockerfile
// (and DockerfileNotes.txt, which init then excludes when it does not
// scan).
func isDockerfile(name string) bool {
	if strings.HasSuffix(name, ".dockerignore") {
		return false
	}
	return strings.HasPrefix(name, "Dockerfile") || strings.HasSuffix(name, ".Dockerfile")
}

// conventionalDockerfile reports whether a file name is one people give
// Dockerfiles: Dockerfile, Dockerfile.prod, Dockerfile-dev, web.Dockerfile.
func conventionalDockerfile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".md", ".txt", ".rst", ".adoc", ".html":
		return false // notes about Dockerfiles
	}
	return name == "Dockerfile" || strings.HasSuffix(name, ".Dockerfile") ||
		strings.HasPrefix(name, "Dockerfile.") || strings.HasPrefix(name, "Dockerfile-") || strings.HasPrefix(name, "Dockerfile_")
}

// isComposeName reports whether name is one of docker compose's default
// file names, main or override, as compose-go lists them.
func isComposeName(name string) bool {
	return slices.Contains(cli.DefaultFileNames, name) || slices.Contains(cli.DefaultOverrideFileNames, name)
}

// leftoverSuffix returns the template or backup suffix of name, or "".
func leftoverSuffix(name string) string {
	for _, s := range leftoverSuffixes {
		if strings.HasSuffix(name, s) {
			return s
		}
	}
	return ""
}

// isLeftover reports whether name is a template or backup of a Dockerfile
// or a compose file.
func isLeftover(name string) bool {
	s := leftoverSuffix(name)
	if s == "" {
		return false
	}
	stem := strings.TrimSuffix(name, s)
	return isDockerfile(stem) || isComposeName(stem) || composeName(stem)
}

// firstPresent returns the first of names (in compose's order of
// preference) that is in present, or "".
func firstPresent(names, present []string) string {
	for _, n := range names {
		if slices.Contains(present, n) {
			return n
		}
	}
	return ""
}

func join(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}

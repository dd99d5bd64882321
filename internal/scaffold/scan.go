// Package scaffold writes a first images.hcl for a repository that has
// none. Scan walks the tree once and notes what each kind of file tells
// (compose projects, Dockerfiles, templates and backups of them); Render
// turns that into a commented config, one section after another. A new
// kind of file is one more note in Scan and one more section in Render.
package scaffold

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

// Repo is what Scan found. Paths are slash-separated, relative to the root
// and sorted.
type Repo struct {
	// Compose are the compose projects, one per directory holding a file
	// by one of docker compose's default names, the root's first, then by
	// depth and name.
	Compose []ComposeProject
	// Dockerfiles are the files named Dockerfile, Dockerfile.* or
	// *.Dockerfile, less templates, backups and .dockerignore files.
	Dockerfiles []string
	// Leftovers are templates and backups of Dockerfiles and compose files
	// ("Dockerfile.tpl", "docker-compose.yml.bak").
	Leftovers []string
	// SkippedDirs are the directories not walked into: version control
	// metadata and other people's code (node_modules, vendor, ...).
	SkippedDirs []string
	// Charts are the Helm charts, subcharts left out.
	Charts []Chart
}

// ComposeProject is a directory's compose project, as `docker compose`
// run in that directory would load it.
type ComposeProject struct {
	Dir     string   // "." for the root
	Files   []string // the main file, then its override file when present
	EnvFile string   // the directory's .env, or ""
}

// skipDirs are directories that never hold the repository's own images:
// version control metadata, dependencies and tool caches. Their Dockerfiles
// belong to other projects.
var skipDirs = []string{".git", ".hg", ".svn", "node_modules", "vendor", "bower_components",
	".venv", "venv", "__pycache__", ".tox", ".terraform", ".cache"}

// vcsDirs are the skipped directories that need no exclude: no glob ever
// finds a Dockerfile in them.
var vcsDirs = []string{".git", ".hg", ".svn"}

// leftoverSuffixes mark templates and backups: not files to scan, although
// "Dockerfile*" globs match them.
var leftoverSuffixes = []string{".tpl", ".bak", ".backup", ".orig"}

// Scan walks the tree under root, without following symbolic links to
// directories, and notes what it finds.
func Scan(ctx context.Context, root string) (*Repo, error) {
	r := &Repo{}
	composeFiles := map[string][]string{} // directory -> default-named compose files in it
	envFiles := map[string]bool{}
	chartDirs, values := map[string]bool{}, map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
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
			if rel != "." && slices.Contains(skipDirs, d.Name()) {
				r.SkippedDirs = append(r.SkippedDirs, rel)
				return filepath.SkipDir
			}
			return nil
		}
		if !isFile(p, d) {
			return nil
		}
		dir, name := path.Split(rel)
		dir = strings.TrimSuffix(dir, "/")
		if dir == "" {
			dir = "."
		}
		switch {
		case isLeftover(name):
			r.Leftovers = append(r.Leftovers, rel)
		case isDockerfile(name):
			r.Dockerfiles = append(r.Dockerfiles, rel)
		case isComposeName(name):
			composeFiles[dir] = append(composeFiles[dir], name)
		case name == ".env":
			envFiles[dir] = true
		case name == "Chart.yaml":
			chartDirs[dir] = true
		case isValuesFile(name):
			values[dir] = append(values[dir], name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	r.Compose = composeProjects(composeFiles, envFiles)
	r.Charts = charts(root, chartDirs, values)
	return r, nil
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

// isDockerfile reports whether a file name is one that names a Dockerfile
// by convention.
func isDockerfile(name string) bool {
	if strings.HasSuffix(name, ".dockerignore") {
		return false
	}
	return name == "Dockerfile" || strings.HasPrefix(name, "Dockerfile.") || strings.HasSuffix(name, ".Dockerfile")
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
	return isDockerfile(stem) || isComposeName(stem)
}

// composeProjects picks, in each directory, the file docker compose would
// load (the first of its default names present) and its override file.
// A directory with only an override file has no project, as in compose.
func composeProjects(files map[string][]string, envFiles map[string]bool) []ComposeProject {
	var out []ComposeProject
	for dir, names := range files {
		main := firstPresent(cli.DefaultFileNames, names)
		if main == "" {
			continue
		}
		p := ComposeProject{Dir: dir, Files: []string{join(dir, main)}}
		if override := firstPresent(cli.DefaultOverrideFileNames, names); override != "" {
			p.Files = append(p.Files, join(dir, override))
		}
		if envFiles[dir] {
			p.EnvFile = join(dir, ".env")
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		di, dj := depth(out[i].Dir), depth(out[j].Dir)
		if di != dj {
			return di < dj
		}
		return out[i].Dir < out[j].Dir
	})
	return out
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
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

// depth is the number of directories between the root and dir.
func depth(dir string) int {
	if dir == "." {
		return 0
	}
	return strings.Count(dir, "/") + 1
}

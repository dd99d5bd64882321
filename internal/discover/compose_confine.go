package discover

// This file keeps compose-go inside the repository. compose-go opens on its
// own the files an include or an extends names, and an include's env files
// (os.ReadFile, os.Stat): `include: [/proc/self/environ]`,
// `extends: {file: ../../secrets.yml}` or an include's env_file linked out
// of the repository would be read, and their content would reach image
// references and error messages. So LoadCompose reads the top-level files
// itself (they go to compose-go as content), and before compose-go runs it
// walks the include and extends graph with compose-go's own loader, one
// file at a time and without following include and extends (the same
// interpolation, anchors and canonical forms compose-go gives them), and
// checks under the repository's rule every path compose-go will open.
// compose-go then loads through a ResourceLoader that answers only with
// the paths checked: one it was not told about is an error, never a read.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"

	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/imagesync/imagesync/internal/excerpt"
	"github.com/imagesync/imagesync/internal/repofs"
)

// maxIncludeDepth bounds the include and extends graph; compose-go finds
// cycles itself, this only stops a walk that would not end.
const maxIncludeDepth = 64

// refKey is a path as written in a compose file: the file is the one
// compose-go names in its context when it asks for the path.
type refKey struct{ file, path string }

// composeGraph is what one LoadCompose lets compose-go open.
type composeGraph struct {
	repo  *repofs.Root
	paths map[refKey]string // a path as written -> the absolute path checked, what Load answers
	dirs  map[refKey]string // a path as written -> its directory, what Dir answers
	seen  map[string]bool   // files walked, by file, base and environment
	last  string            // the file of the last Load: Dir asks right after it
}

func newComposeGraph(repo *repofs.Root) *composeGraph {
	return &composeGraph{repo: repo, paths: map[refKey]string{}, dirs: map[refKey]string{}, seen: map[string]bool{}}
}

// walk checks what compose-go will open for the compose file named file
// (as compose-go names it) holding content, whose relative paths start
// from base, loaded with the variables env, and walks the files it
// includes and extends.
func (g *composeGraph) walk(ctx context.Context, file string, content []byte, base string, env map[string]string, depth int) error {
	key := walkKey(file, base, env)
	if g.seen[key] {
		return nil
	}
	g.seen[key] = true
	if depth > maxIncludeDepth {
		return fmt.Errorf("includes and extends nested more than %d deep", maxIncludeDepth)
	}
	if err := checkAnchorCycles(content); err != nil {
		return err
	}
	if !refersOut(content) {
		return nil // compose-go opens nothing for this file
	}
	dict, err := shallowLoad(ctx, file, content, base, env)
	if err != nil {
		return excerpt.Error(err)
	}
	if err := g.includes(ctx, file, dict["include"], base, env, depth); err != nil {
		return err
	}
	return g.extends(ctx, file, file, dict, base, env, depth)
}

// includes checks the entries of a file's include section: each file, the
// project directory and the env files, as compose-go's ApplyInclude
// computes them, and walks the included files.
func (g *composeGraph) includes(ctx context.Context, file string, section any, base string, env map[string]string, depth int) error {
	raw, _ := section.([]any)
	var entries []types.IncludeConfig
	if err := loader.Transform(raw, &entries); err != nil {
		return fmt.Errorf("include: %w", err)
	}
	for _, e := range entries {
		if len(e.Path) == 0 {
			return errors.New("include: an entry without a path")
		}
		var included []string
		for _, p := range e.Path {
			abs, err := g.check(file, p, base)
			if err != nil {
				return fmt.Errorf("include: %w", err)
			}
			included = append(included, abs)
		}
		dir := filepath.Dir(included[0])
		if e.ProjectDirectory != "" {
			dir = absFrom(base, e.ProjectDirectory)
			g.dirs[refKey{file, e.ProjectDirectory}] = dir
		}
		g.dirs[refKey{file, included[0]}] = dir
		if fi, err := g.repo.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("include: project_directory %s: %w", excerpt.Quote(e.ProjectDirectory), notDir(err))
		}
		fromFiles, err := g.includeEnv(file, e, dir, base, env)
		if err != nil {
			return err
		}
		nested := types.Mapping(maps.Clone(env)).Merge(fromFiles) // as compose-go: the including file's variables win
		for _, abs := range included {
			content, err := g.repo.ReadFile(abs)
			if err != nil {
				return fmt.Errorf("include: %w", err)
			}
			if err := g.walk(ctx, abs, content, dir, nested, depth+1); err != nil {
				return fmt.Errorf("include %s: %w", g.repo.Rel(abs), err)
			}
		}
	}
	return nil
}

// includeEnv reads an include entry's env files (or the .env of its
// project directory) as compose-go would, under the rule.
func (g *composeGraph) includeEnv(file string, e types.IncludeConfig, dir, base string, env map[string]string) (map[string]string, error) {
	var files []string
	if len(e.EnvFile) == 0 {
		dot := filepath.Join(dir, ".env")
		if fi, err := g.repo.Stat(dot); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("include: %w", err)
		} else if err == nil && !fi.IsDir() {
			files = []string{dot}
		}
	}
	for _, f := range e.EnvFile {
		if f != "/dev/null" { // compose-go's way to say none
			files = append(files, absFrom(base, f))
		}
	}
	vars, err := readEnvFiles(g.repo, files, env)
	if err != nil {
		return nil, fmt.Errorf("include: %w", err)
	}
	return vars, nil
}

// extends checks the files the services of dict extend, as compose-go's
// ApplyExtends resolves them (relative to base, in the context of origin),
// and the files those extend in turn, which compose-go resolves relative
// to the extended file, still in origin's context.
func (g *composeGraph) extends(ctx context.Context, origin, file string, dict map[string]any, base string, env map[string]string, depth int) error {
	for _, section := range []string{"services", "jobs"} {
		services, _ := dict[section].(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(services)) {
			svc, _ := services[name].(map[string]any)
			ext, _ := svc["extends"].(map[string]any)
			ref, ok := ext["file"].(string)
			if !ok {
				continue
			}
			abs, err := g.check(origin, ref, base)
			if err != nil {
				return fmt.Errorf("%s.%s.extends.file: %w", section, name, err)
			}
			g.dirs[refKey{origin, ref}] = filepath.Dir(abs)
			if err := g.extendsBase(ctx, origin, abs, env, depth+1); err != nil {
				return fmt.Errorf("%s.%s.extends %s: %w", section, name, g.repo.Rel(abs), err)
			}
		}
	}
	return nil
}

// extendsBase walks a file some service extends, for the files its own
// services extend (compose-go follows no include there).
func (g *composeGraph) extendsBase(ctx context.Context, origin, file string, env map[string]string, depth int) error {
	key := walkKey(origin+"\x00"+file, "", env)
	if g.seen[key] {
		return nil
	}
	g.seen[key] = true
	if depth > maxIncludeDepth {
		return fmt.Errorf("extends nested more than %d deep", maxIncludeDepth)
	}
	content, err := g.repo.ReadFile(file)
	if err != nil {
		return err
	}
	if err := checkAnchorCycles(content); err != nil {
		return err
	}
	if !refersOut(content) {
		return nil
	}
	dict, err := shallowLoad(ctx, file, content, filepath.Dir(file), env)
	if err != nil {
		return excerpt.Error(err)
	}
	return g.extends(ctx, origin, file, dict, filepath.Dir(file), env, depth)
}

// check resolves a path written in file relative to base, as compose-go's
// local resource loader does, requires a regular file inside the
// repository, and records it for Load.
func (g *composeGraph) check(file, p, base string) (string, error) {
	abs := absFrom(base, p)
	fi, err := g.repo.Stat(abs)
	if err == nil && !fi.Mode().IsRegular() {
		err = &repofs.NotRegularError{Name: g.repo.Rel(abs), Kind: repofs.KindOf(fi.Mode())}
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", excerpt.Quote(p), err)
	}
	key := refKey{file, p}
	if prev, ok := g.paths[key]; ok && prev != abs {
		return "", fmt.Errorf("%s names both %s and %s, through extends in different directories: imagesync cannot tell which compose-go opens",
			excerpt.Quote(p), g.repo.Rel(prev), g.repo.Rel(abs))
	}
	g.paths[key] = abs
	return abs, nil
}

// loader is the ResourceLoader compose-go loads through: it accepts every
// path (so that compose-go's own local loader, which reads anything, is
// never asked) and answers only with the paths walk checked.
func (g *composeGraph) loader() loader.ResourceLoader { return confinedLoader{g} }

type confinedLoader struct{ g *composeGraph }

func (confinedLoader) Accept(string) bool { return true }

func (l confinedLoader) Load(ctx context.Context, p string) (string, error) {
	file, _ := ctx.Value(consts.ComposeFileKey{}).(string)
	l.g.last = file
	abs, ok := l.g.paths[refKey{file, p}]
	if !ok {
		return "", fmt.Errorf("%s: %s was not checked against the repository's rule, so it is not read", l.g.repo.Rel(file), excerpt.Quote(p))
	}
	return abs, nil
}

// Dir answers the directory compose-go asks for right after a Load: of
// the file an include loaded, of an include's project_directory as
// written, of an extends file as written. A directory walk did not
// record is one that does not exist, so that nothing is read from it.
func (l confinedLoader) Dir(p string) string {
	if dir, ok := l.g.dirs[refKey{l.g.last, p}]; ok {
		return dir
	}
	return filepath.Join(l.g.repo.Dir(), ".imagesync-unchecked-directory")
}

// shallowLoad loads one compose file with compose-go without following
// include and extends: interpolated, anchors merged, in canonical form.
// It reads nothing but content.
func shallowLoad(ctx context.Context, file string, content []byte, base string, env map[string]string) (map[string]any, error) {
	return loader.LoadModelWithContext(ctx, types.ConfigDetails{
		WorkingDir:  base,
		ConfigFiles: []types.ConfigFile{{Filename: file, Content: content}},
		Environment: maps.Clone(env),
	}, lenientLoad(newUnsetTracker()), func(o *loader.Options) {
		o.SkipInclude, o.SkipExtends, o.SkipNormalization, o.SkipConsistencyCheck = true, true, true, true
		o.ResolvePaths = false
		o.SetProjectName("imagesync-walk", true)
	})
}

// refersOut reports whether a compose file may make compose-go open
// another file: it has an include section, or a service or job with
// extends. A file that does not parse opens nothing: compose-go stops at
// the parse.
func refersOut(content []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(content))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return false
		}
		if _, ok := doc["include"]; ok {
			return true
		}
		for _, section := range []string{"services", "jobs"} {
			entries, _ := doc[section].(map[string]any)
			for _, v := range entries {
				if svc, ok := v.(map[string]any); ok && svc["extends"] != nil {
					return true
				}
			}
		}
	}
}

// readEnvFiles reads env files under the rule and parses them as
// compose-go's dotenv.GetEnvFromFile does: each file may use the
// variables of env and of the files before it.
func readEnvFiles(repo *repofs.Root, files []string, env map[string]string) (map[string]string, error) {
	vars := map[string]string{}
	lookup := func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		v, ok := vars[k]
		return v, ok
	}
	for _, f := range files {
		data, err := repo.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read env file: %w", err)
		}
		if err := dotenv.ParseWithFormat(bytes.NewReader(data), f, vars, lookup, ""); err != nil {
			return nil, fmt.Errorf("read env file %s: %w", repo.Rel(f), excerpt.Error(err))
		}
	}
	return vars, nil
}

// absFrom is p made absolute from base, as compose-go's loaders do.
func absFrom(base, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

// walkKey names a walk of file from base with env.
func walkKey(file, base string, env map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(env)) {
		fmt.Fprintf(h, "%d:%s=%d:%s\n", len(k), k, len(env[k]), env[k])
	}
	return file + "\x00" + base + "\x00" + string(h.Sum(nil))
}

// notDir is the error for a project directory that is not one.
func notDir(err error) error {
	if err != nil {
		return err
	}
	return errors.New("not a directory")
}

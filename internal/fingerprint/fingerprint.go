// Package fingerprint hashes what a build's own files decide about the
// image it builds: the Dockerfile, the build arguments, target and
// platforms, and the files of its contexts as docker sends them (less
// what .dockerignore leaves out). The lock combines the fingerprint with
// the digests of the build's bases into the build's inputs, so that a
// build is redone exactly when one of them changes.
package fingerprint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/repofs"
)

// Build is what decides a build's output besides its base images.
type Build struct {
	// Dockerfile is the Dockerfile's slash path relative to the root; with
	// Inline, only a name.
	Dockerfile string
	Inline     []byte // dockerfile_inline content, if any
	// Context is the build context directory, a slash path relative to
	// the root.
	Context   string
	Args      map[string]string // the effective build arguments
	Target    string            // the target stage, "" for the last
	Platforms []string          // sorted
	// LocalContexts are the additional build contexts that are
	// directories (slash paths relative to the root) or URLs, by name.
	LocalContexts map[string]string
}

// Sum hashes what a build's own files decide about its output: the
// Dockerfile bytes, the build arguments, the target stage, the platforms
// and every file of the context that .dockerignore lets through (path,
// mode as git records it, and content; a symbolic link by its target), and
// of each local additional context. The digests of its base images are
// not included: the lock adds them, as only it knows them. root is the
// repository, which no path may leave.
//
// Anything that cannot change the image (modification times, owners,
// ignored files, the order files are listed in) does not change the result.
func Sum(root string, b Build) (digest.Digest, error) {
	repo, err := repofs.Open(root)
	if err != nil {
		return "", err
	}
	defer repo.Close()
	h := sha256.New()
	field := func(name, value string) { fmt.Fprintf(h, "%s %d %s\n", name, len(value), value) }

	dockerfile := b.Inline
	if dockerfile == nil {
		if dockerfile, err = repo.ReadFile(b.Dockerfile); err != nil {
			return "", err
		}
	}
	field("dockerfile", string(dockerfile))
	for _, k := range slices.Sorted(maps.Keys(b.Args)) {
		field("arg", k+"="+b.Args[k])
	}
	field("target", b.Target)
	field("platforms", strings.Join(b.Platforms, ","))

	// A context reached through a symbolic link is the directory it points
	// to, as for docker; links inside it are recorded, not followed.
	ctx, err := newContextDir(repo, b.Context)
	if err != nil {
		return "", fmt.Errorf("context: %w", err)
	}
	pm, err := dockerignore(repo, ctx.rel, b)
	if err != nil {
		return "", err
	}
	if err := hashContext(h, repo, ctx, pm); err != nil {
		return "", err
	}
	if err := hashLocalContexts(h, repo, b); err != nil {
		return "", err
	}
	return digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)), nil
}

// contextDir is a build context: its directory relative to the real root
// and a file system on it that lists links as links.
type contextDir struct {
	fsys fs.FS
	rel  string
}

func newContextDir(repo *repofs.Root, name string) (contextDir, error) {
	fsys, rel, err := repo.Sub(name)
	return contextDir{fsys: fsys, rel: rel}, err
}

// hashLocalContexts adds the additional contexts that are directories,
// file by file; a URL context can only be recorded by its address.
func hashLocalContexts(h hash.Hash, repo *repofs.Root, b Build) error {
	for _, key := range slices.Sorted(maps.Keys(b.LocalContexts)) {
		val := b.LocalContexts[key]
		if strings.Contains(val, "://") || strings.HasPrefix(val, "git@") {
			fmt.Fprintf(h, "context-url %q %q\n", key, val)
			continue
		}
		dir, err := newContextDir(repo, val)
		if err != nil {
			return fmt.Errorf("additional context %s: %w", key, err)
		}
		fmt.Fprintf(h, "context %q\n", key)
		if err := hashContext(h, repo, dir, nil); err != nil {
			return fmt.Errorf("additional context %s: %w", key, err)
		}
	}
	return nil
}

// dockerignore loads the ignore rules BuildKit would use: a
// "<Dockerfile>.dockerignore" next to the Dockerfile wins over the
// context's .dockerignore (ctxRel, relative to the real root).
func dockerignore(repo *repofs.Root, ctxRel string, b Build) (*patternmatcher.PatternMatcher, error) {
	candidates := []string{path.Join(ctxRel, ".dockerignore")}
	if b.Inline == nil {
		candidates = append([]string{b.Dockerfile + ".dockerignore"}, candidates...)
	}
	for _, file := range candidates {
		data, err := repo.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		pm, err := patternmatcher.New(patterns)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return pm, nil
	}
	return nil, nil
}

// hashContext walks the context in lexical order (fs.WalkDir's order)
// and writes one record per entry that is not ignored.
func hashContext(h hash.Hash, repo *repofs.Root, ctx contextDir, pm *patternmatcher.PatternMatcher) error {
	parents := map[string]patternmatcher.MatchInfo{}
	return fs.WalkDir(ctx.fsys, ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil || rel == "." {
			return err
		}
		if pm != nil {
			parent := parents[path.Dir(rel)]
			ignored, info, err := pm.MatchesUsingParentResults(rel, parent)
			if err != nil {
				return fmt.Errorf("match %s: %w", rel, err)
			}
			if d.IsDir() {
				parents[rel] = info
			}
			if ignored {
				// An ignored directory may still hold files that a "!"
				// pattern brings back, so it is only skipped without them.
				if d.IsDir() && !pm.Exclusions() {
					return fs.SkipDir
				}
				return nil
			}
		}
		return hashEntry(h, repo, ctx, rel, d)
	})
}

func hashEntry(h hash.Hash, repo *repofs.Root, ctx contextDir, rel string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	mode := info.Mode()
	switch {
	case mode.IsRegular():
		sum, err := fileSum(repo, path.Join(ctx.rel, rel))
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "file %q %s %s\n", rel, gitMode(mode), sum)
	case mode&fs.ModeSymlink != 0:
		// A link is sent to the builder as a link, not read; but one out
		// of the repository would make a COPY that follows it read what
		// lies outside: it is an error unless .dockerignore leaves it out.
		if _, err := repo.Stat(path.Join(ctx.rel, rel)); errors.Is(err, repofs.ErrOutside) {
			return fmt.Errorf("%w (leave it out of the build context with .dockerignore if the image does not need it)", err)
		}
		target, err := fs.ReadLink(ctx.fsys, rel)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "link %q %q\n", rel, target)
	case mode.IsDir():
		fmt.Fprintf(h, "dir %q\n", rel)
	default:
		fmt.Fprintf(h, "other %q %s\n", rel, mode.Type())
	}
	return nil
}

// gitMode reduces a file mode to what git records, executable or not:
// the other permission bits follow the umask of whoever checked the
// repository out, and a lock must not change from one machine to the next.
func gitMode(m fs.FileMode) string {
	if m.Perm()&0o111 != 0 {
		return "755"
	}
	return "644"
}

// fileSum hashes a file of the context as it is when opened (a file that
// grows meanwhile is hashed up to the size it had).
func fileSum(repo *repofs.Root, name string) (string, error) {
	f, err := repo.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Package fingerprint hashes what a build's own files decide about the
// image it builds: the Dockerfile, the build arguments, target and
// platforms, and the files of its contexts as docker sends them (less
// what .dockerignore leaves out). The lock combines the fingerprint with
// the digests of the build's bases into the build's inputs, so that a
// build is redone exactly when one of them changes.
package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/repopath"
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
	h := sha256.New()
	field := func(name, value string) { fmt.Fprintf(h, "%s %d %s\n", name, len(value), value) }

	dockerfile := b.Inline
	if dockerfile == nil {
		abs, err := repopath.Resolve(root, b.Dockerfile)
		if err != nil {
			return "", err
		}
		if dockerfile, err = os.ReadFile(abs); err != nil {
			return "", err
		}
	}
	field("dockerfile", string(dockerfile))
	for _, k := range slices.Sorted(maps.Keys(b.Args)) {
		field("arg", k+"="+b.Args[k])
	}
	field("target", b.Target)
	field("platforms", strings.Join(b.Platforms, ","))

	ctxDir, err := repopath.Resolve(root, b.Context)
	if err != nil {
		return "", fmt.Errorf("context: %w", err)
	}
	// A context reached through a symbolic link is the directory it points
	// to, as for docker; filepath.WalkDir would not descend into the link.
	if ctxDir, err = filepath.EvalSymlinks(ctxDir); err != nil {
		return "", fmt.Errorf("context: %w", err)
	}
	pm, err := dockerignore(root, ctxDir, b)
	if err != nil {
		return "", err
	}
	if err := hashContext(h, ctxDir, pm); err != nil {
		return "", err
	}
	if err := hashLocalContexts(h, root, b); err != nil {
		return "", err
	}
	return digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)), nil
}

// hashLocalContexts adds the additional contexts that are directories,
// file by file; a URL context can only be recorded by its address.
func hashLocalContexts(h hash.Hash, root string, b Build) error {
	for _, key := range slices.Sorted(maps.Keys(b.LocalContexts)) {
		val := b.LocalContexts[key]
		if strings.Contains(val, "://") || strings.HasPrefix(val, "git@") {
			fmt.Fprintf(h, "context-url %q %q\n", key, val)
			continue
		}
		dir, err := repopath.Resolve(root, val)
		if err != nil {
			return fmt.Errorf("additional context %s: %w", key, err)
		}
		if dir, err = filepath.EvalSymlinks(dir); err != nil {
			return fmt.Errorf("additional context %s: %w", key, err)
		}
		fmt.Fprintf(h, "context %q\n", key)
		if err := hashContext(h, dir, nil); err != nil {
			return fmt.Errorf("additional context %s: %w", key, err)
		}
	}
	return nil
}

// dockerignore loads the ignore rules BuildKit would use: a
// "<Dockerfile>.dockerignore" next to the Dockerfile wins over the
// context's .dockerignore.
func dockerignore(root, ctxDir string, b Build) (*patternmatcher.PatternMatcher, error) {
	candidates := []string{filepath.Join(ctxDir, ".dockerignore")}
	if b.Inline == nil {
		candidates = append([]string{filepath.Join(root, filepath.FromSlash(b.Dockerfile)) + ".dockerignore"}, candidates...)
	}
	for _, file := range candidates {
		f, err := os.Open(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
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

// hashContext walks the context in lexical order (filepath.WalkDir's
// order) and writes one record per entry that is not ignored.
func hashContext(h hash.Hash, ctxDir string, pm *patternmatcher.PatternMatcher) error {
	parents := map[string]patternmatcher.MatchInfo{}
	return filepath.WalkDir(ctxDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(ctxDir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if pm != nil {
			parent := parents[filepath.ToSlash(filepath.Dir(rel))]
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
					return filepath.SkipDir
				}
				return nil
			}
		}
		return hashEntry(h, p, rel, d)
	})
}

func hashEntry(h hash.Hash, abs, rel string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	mode := info.Mode()
	switch {
	case mode.IsRegular():
		sum, err := fileSum(abs)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "file %q %s %s\n", rel, gitMode(mode), sum)
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(abs)
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

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

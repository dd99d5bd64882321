// Package repopath resolves the paths a repository's files name (a
// Dockerfile, a build context) and refuses those that leave the
// repository, through ".." or through a symbolic link: discovery and
// fingerprinting read only what the repository holds.
package repopath

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Resolve returns the absolute path of rel, a slash path relative to
// root, and refuses one that leaves root, through ".." or through a
// symbolic link. A path that does not exist is fs.ErrNotExist.
func Resolve(root, rel string) (string, error) {
	abs := filepath.Join(root, filepath.FromSlash(rel))
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if os.IsNotExist(err) {
			return "", fmt.Errorf("%s: %w", rel, fs.ErrNotExist)
		}
		return "", fmt.Errorf("resolve %s: %w", rel, err)
	}
	if r, err := filepath.Rel(realRoot, real); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s leaves the repository (it resolves to %s)", rel, real)
	}
	return abs, nil
}

// Package repofs is the one rule by which imagesync reads a file of the
// repository: images.hcl, images.lock and its sidecar, compose files and
// their env files, includes and extends, Dockerfiles, .dockerignore files
// and the build context files a fingerprint hashes, charts and every file
// in them, values files, kustomizations and manifests.
//
// A name is resolved with its symbolic links evaluated, one component at a
// time, and must stay beneath the repository root: a link that leaves it
// is an error naming the link and its target, and is never followed. Only
// regular files are read: a FIFO, a device, a socket or a file of /proc is
// refused before it is opened (a FIFO would block the run, /dev/zero would
// fill memory, /proc/self/environ holds the job's secrets). Every read is
// bounded: ReadFile by a size cap, Open by the size the file had when it
// was opened. Files are opened through an os.Root on the real root, so a
// tree changed between the check and the open still cannot lead out.
//
// A repository is untrusted input: a pull request can commit any link.
package repofs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DefaultMaxFileSize is the most ReadFile reads of one file: more than
// any compose file, lockfile or manifest bundle needs, little enough that
// a hostile file cannot exhaust memory.
const DefaultMaxFileSize = 16 << 20

// Root is a repository directory whose files are read under the rule.
// It holds an open directory; Close releases it.
type Root struct {
	dir  string   // absolute and clean, as the caller named it
	real string   // dir with its symbolic links resolved
	fs   *os.Root // opened on real: every open happens beneath it
}

// Open opens the repository directory dir. dir itself may be reached
// through symbolic links: it is the caller's choice, not the repository's.
func Open(dir string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	fsys, err := os.OpenRoot(real)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	return &Root{dir: abs, real: real, fs: fsys}, nil
}

// Close releases the directory Open opened.
func (r *Root) Close() error { return r.fs.Close() }

// Dir is the repository directory as Open was given it, made absolute.
func (r *Root) Dir() string { return r.dir }

// Resolve returns the absolute real path of name (its symbolic links
// evaluated), which exists and is inside the root. name is a slash path
// relative to the root, or an absolute path that lies beneath it; it is
// cleaned first ("a/link/.." is "a"), as filepath.Join cleans the paths of
// the tools that name such files (compose, Helm, kustomize), and its links
// are then evaluated as the kernel does.
func (r *Root) Resolve(name string) (string, error) {
	rel, _, err := r.resolve(name)
	if err != nil {
		return "", err
	}
	return filepath.Join(r.real, filepath.FromSlash(rel)), nil
}

// Rel returns the slash path of name relative to the root, lexically,
// without resolving links: how errors name a file. A name outside the
// root is returned as it is.
func (r *Root) Rel(name string) string {
	rel, err := r.relative(name)
	if err != nil {
		return name
	}
	return rel
}

// relative turns name into a clean slash path relative to the root; it
// may start with "..", which the resolver refuses with a clear error. An
// absolute name must lie (lexically) beneath the root as named or as
// resolved.
func (r *Root) relative(name string) (string, error) {
	if !filepath.IsAbs(name) {
		return path.Clean(filepath.ToSlash(name)), nil
	}
	if rel, ok := within(r.dir, name); ok {
		return rel, nil
	}
	if rel, ok := within(r.real, name); ok {
		return rel, nil
	}
	return "", &LeaveError{Name: name, absolute: true}
}

// within returns p relative to dir, slash-separated, when p is dir or
// lies beneath it.
func within(dir, p string) (string, bool) {
	rel, err := filepath.Rel(dir, filepath.Clean(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// ErrOutside is wrapped by every error about a name that leaves the
// repository.
var ErrOutside = errors.New("outside the repository")

// ErrNotRegular is wrapped by the error about a name that is not a
// regular file (a directory, a FIFO, a device, a socket, a file of /proc).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error about a file over the size cap.
var ErrTooLarge = errors.New("file too large")

package kustomize

import (
	"errors"
	"io/fs"
	"path/filepath"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/imagesync/imagesync/internal/repofs"
)

// confinedFS is the file system kustomize builds on: every path it names
// (kustomizations, bases, components, resources, patches, generator
// files) resolved under the repository's rule, reads only. kustomize's
// own load restrictions keep files below a kustomization but let bases
// reach anywhere, through links too; here nothing leaves the repository,
// and a link that would is an error naming it.
type confinedFS struct{ repo *repofs.Root }

var _ filesys.FileSystem = confinedFS{}

// errReadOnly answers every write: a build only reads.
var errReadOnly = errors.New("kustomize build: the repository is read only")

func (confinedFS) Create(string) (filesys.File, error) { return nil, errReadOnly }
func (confinedFS) Mkdir(string) error                  { return errReadOnly }
func (confinedFS) MkdirAll(string) error               { return errReadOnly }
func (confinedFS) RemoveAll(string) error              { return errReadOnly }
func (confinedFS) WriteFile(string, []byte) error      { return errReadOnly }

func (c confinedFS) Open(path string) (filesys.File, error) { return c.repo.Open(path) }

func (c confinedFS) ReadFile(path string) ([]byte, error) { return c.repo.ReadFile(path) }

func (c confinedFS) IsDir(path string) bool {
	fi, err := c.repo.Stat(path)
	return err == nil && fi.IsDir()
}

func (c confinedFS) Exists(path string) bool {
	ok, _ := c.repo.Exists(path)
	return ok
}

func (c confinedFS) ReadDir(path string) ([]string, error) {
	entries, err := c.repo.ReadDir(path)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// CleanedAbs resolves path as kustomize's on-disk file system does
// (symbolic links evaluated), under the rule: a path that leaves the
// repository is the error kustomize reports.
func (c confinedFS) CleanedAbs(path string) (filesys.ConfirmedDir, string, error) {
	real, err := c.repo.Resolve(path)
	if err != nil {
		return "", "", err
	}
	fi, err := c.repo.Stat(real)
	if err != nil {
		return "", "", err
	}
	if fi.IsDir() {
		return filesys.ConfirmedDir(real), "", nil
	}
	return filesys.ConfirmedDir(filepath.Dir(real)), filepath.Base(real), nil
}

// Glob matches as kustomize's on-disk file system does, hidden files
// left out unless the pattern names them, and keeps the matches inside
// the repository.
func (c confinedFS) Glob(pattern string) ([]string, error) {
	if _, err := c.repo.Resolve(filepath.Dir(pattern)); err != nil {
		return nil, err
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	if !filesys.IsHiddenFilePath(pattern) {
		matches = filesys.RemoveHiddenFiles(matches)
	}
	var out []string
	for _, m := range matches {
		if _, err := c.repo.Resolve(m); err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// Walk walks the directory path as filepath.Walk does (links listed, not
// followed), once path is known to be inside.
func (c confinedFS) Walk(path string, walkFn filepath.WalkFunc) error {
	if _, err := c.repo.Resolve(path); err != nil {
		return walkFn(path, nil, err)
	}
	return filepath.Walk(path, func(p string, info fs.FileInfo, err error) error {
		if err == nil && info.Mode()&fs.ModeSymlink != 0 {
			if _, rerr := c.repo.Resolve(p); rerr != nil {
				return walkFn(p, info, rerr)
			}
		}
		return walkFn(p, info, err)
	})
}

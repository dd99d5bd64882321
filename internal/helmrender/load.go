package helmrender

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/ignore"

	"github.com/imagesync/imagesync/internal/repofs"
)

// utf8BOM is stripped from every chart file, as Helm's directory loader
// does.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// chartFiles reads the chart at name (a directory or a .tgz archive)
// through repo, as Helm's loader.Load would read it from disk, and returns
// its files for loader.LoadFiles: Helm never opens a file itself, so every
// file of the chart, templates and .Files.Get alike, is one the rule let
// through. A directory is walked as Helm's LoadDir walks it: sorted,
// symbolic links followed (inside the repository only), .helmignore and
// Helm's default ignores applied, Helm's size limits kept.
func chartFiles(repo *repofs.Root, name string) ([]*loader.BufferedFile, error) {
	info, err := repo.Stat(name)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		data, err := repo.ReadFileLimit(name, loader.MaxDecompressedChartSize)
		if err != nil {
			return nil, err
		}
		return loader.LoadArchiveFiles(bytes.NewReader(data))
	}
	w := &chartWalk{repo: repo, top: name, rules: ignore.Empty(), open: map[string]bool{}}
	ignoreFile := path.Join(name, ignore.HelmIgnore)
	if ok, err := repo.Exists(ignoreFile); err != nil {
		return nil, err
	} else if ok {
		data, err := repo.ReadFile(ignoreFile)
		if err != nil {
			return nil, err
		}
		if w.rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("%s: %w", ignoreFile, err)
		}
	}
	w.rules.AddDefaults()
	if err := w.dir(""); err != nil {
		return nil, err
	}
	return w.files, nil
}

// chartWalk is one walk of a chart directory.
type chartWalk struct {
	repo  *repofs.Root
	top   string // the chart directory, as named
	rules *ignore.Rules
	files []*loader.BufferedFile
	total int64
	open  map[string]bool // real paths of the directories being walked: a link back to one is a loop
}

// dir walks the chart's directory rel ("" for the chart itself).
func (w *chartWalk) dir(rel string) error {
	name := path.Join(w.top, rel)
	real, err := w.repo.Resolve(name)
	if err != nil {
		return err
	}
	if w.open[real] {
		return fmt.Errorf("%s: a symbolic link loops back to a directory that contains it", name)
	}
	w.open[real] = true
	defer delete(w.open, real)
	entries, err := w.repo.ReadDir(name)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := w.entry(path.Join(rel, e.Name()), e); err != nil {
			return err
		}
	}
	return nil
}

// entry takes one entry of the chart, rel being its chart-relative path.
func (w *chartWalk) entry(rel string, e fs.DirEntry) error {
	name := path.Join(w.top, rel)
	info, err := w.repo.Stat(name) // through links, as Helm's walk follows them
	if errors.Is(err, repofs.ErrOutside) {
		if li, lerr := e.Info(); lerr == nil && w.rules.Ignore(rel, li) {
			return nil // Helm would not load it: neither do we, nor complain
		}
	}
	if err != nil {
		return err
	}
	if w.rules.Ignore(rel, info) {
		return nil
	}
	if info.IsDir() {
		return w.dir(rel)
	}
	if !info.Mode().IsRegular() {
		return &repofs.NotRegularError{Name: w.repo.Rel(name), Kind: repofs.KindOf(info.Mode())} // Helm refuses it too
	}
	if info.Size() > loader.MaxDecompressedFileSize {
		return fmt.Errorf("chart file %q is larger than the maximum file size %d", rel, loader.MaxDecompressedFileSize)
	}
	data, err := w.repo.ReadFileLimit(name, loader.MaxDecompressedFileSize)
	if err != nil {
		return err
	}
	if w.total += int64(len(data)); w.total > loader.MaxDecompressedChartSize {
		return fmt.Errorf("chart %s is larger than the maximum chart size %d", w.top, loader.MaxDecompressedChartSize)
	}
	w.files = append(w.files, &loader.BufferedFile{Name: rel, Data: bytes.TrimPrefix(data, utf8BOM)})
	return nil
}

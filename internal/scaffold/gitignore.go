package scaffold

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/imagesync/imagesync/internal/atomicfile"
)

// CacheDir is the directory, next to images.hcl, where imagesync keeps
// what it fetches (charts); it does not belong in the repository.
const CacheDir = ".imagesync/"

// Gitignore is what init did about CacheDir in the .gitignore next to
// images.hcl.
type Gitignore struct {
	// Added is set when init appended CacheDir to an existing .gitignore.
	Added bool
	// Note says what the user should do when init did not add it ("" when
	// the file already ignores it).
	Note string
}

// ignoreCache appends CacheDir to the .gitignore of dir when that file
// exists, is a regular file and does not ignore it yet: two lines at the
// end of a file the user already keeps, which init then names in its
// output. It never creates a .gitignore (a repository without one may
// keep its ignores elsewhere) nor follows a symbolic link.
func ignoreCache(dir string) Gitignore {
	name := filepath.Join(dir, ".gitignore")
	fi, err := os.Lstat(name)
	switch {
	case os.IsNotExist(err):
		return Gitignore{Note: "no .gitignore next to images.hcl: add " + CacheDir + " to the one you use (imagesync caches charts there)"}
	case err != nil || !fi.Mode().IsRegular():
		return Gitignore{Note: ".gitignore is not a regular file: add " + CacheDir + " to it yourself (imagesync caches charts there)"}
	}
	data, err := reader{root: dir}.read(".gitignore")
	if err != nil {
		return Gitignore{Note: "could not read .gitignore (" + err.Error() + "): add " + CacheDir + " to it yourself"}
	}
	for _, line := range strings.Split(string(data), "\n") {
		switch strings.TrimSpace(line) {
		case ".imagesync", ".imagesync/", "/.imagesync", "/.imagesync/", ".imagesync/*", "/.imagesync/*":
			return Gitignore{}
		}
	}
	text := string(data)
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	text += "\n# imagesync's cache (charts it fetches)\n/" + CacheDir + "\n"
	if err := atomicfile.Write(name, []byte(text)); err != nil {
		return Gitignore{Note: "could not add " + CacheDir + " to .gitignore (" + err.Error() + "): add it yourself"}
	}
	if mode := fi.Mode().Perm(); mode != 0o644 {
		_ = os.Chmod(name, mode) // atomicfile writes 0644: keep the user's mode
	}
	return Gitignore{Added: true}
}

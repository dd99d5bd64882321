package scaffold

import (
	"fmt"
	"io"

	"github.com/imagesync/imagesync/internal/repofs"
)

// maxFileSize bounds what init reads of one file: compose files,
// manifests, Dockerfiles and CI files are kilobytes. A larger one is left
// out, and said so.
const maxFileSize = 4 << 20

// reader is the one place init reads the repository's files: beneath the
// root, a symbolic link that leaves it refused (repofs), at most
// maxFileSize bytes each.
type reader struct{ root string }

// read returns the content of rel, a slash path relative to the root.
func (r reader) read(rel string) ([]byte, error) {
	repo, err := repofs.Open(r.root)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	f, err := repo.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d MiB", rel, maxFileSize>>20)
	}
	return data, nil
}

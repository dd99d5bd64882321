// Package atomicfile writes files so that a reader (or a crash) never sees
// half of one: the bytes go to a temporary file in the same directory, are
// synced, and only then take the final name.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExist is returned by WriteNew when the file is already there.
var ErrExist = fs.ErrExist

// Write replaces filename with data (mode 0644), atomically.
func Write(filename string, data []byte) error {
	tmp, err := writeTemp(filename, data)
	if err != nil {
		return fmt.Errorf("write %s: %w", filename, err)
	}
	defer os.Remove(tmp) // after a successful rename this is a no-op
	if err := os.Rename(tmp, filename); err != nil {
		return fmt.Errorf("write %s: %w", filename, err)
	}
	return nil
}

// WriteNew creates filename with data (mode 0644), atomically, and never
// replaces an existing file: the complete temporary file is hard-linked to
// the final name, which fails when the name is taken, even when another
// process creates it at the same moment. The error then wraps ErrExist.
func WriteNew(filename string, data []byte) error {
	tmp, err := writeTemp(filename, data)
	if err != nil {
		return fmt.Errorf("write %s: %w", filename, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, filename); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("write %s: %w", filename, ErrExist)
		}
		return fmt.Errorf("write %s: %w", filename, err)
	}
	return nil
}

// writeTemp writes data to a synced temporary file next to filename and
// returns its name.
func writeTemp(filename string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(filename), "."+filepath.Base(filename)+".*.tmp")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// CreateTemp makes 0600 files; the result is an ordinary file.
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

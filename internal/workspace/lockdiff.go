package workspace

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/lock"
)

// DiffLocks reads two lockfiles, as named on the command line, and
// compares them (diff.Locks): what replacing oldFile with newFile does,
// offline, without images.hcl. A lockfile that is missing or does not
// parse is an error with every diagnostic of both files.
func DiffLocks(oldFile, newFile string) (*diff.LockDiff, error) {
	p := hclparse.NewParser()
	var diags hcl.Diagnostics
	load := func(name string) *lock.Lock {
		f, d := lock.Load(p, name)
		diags = append(diags, d...)
		if f == nil && !d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No such lockfile",
				Detail: fmt.Sprintf("%s does not exist.", name)})
		}
		if f == nil {
			return nil
		}
		return f.Lock
	}
	old, next := load(oldFile), load(newFile)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Files: p.Files(), Diags: diags}
	}
	return diff.Locks(old, next)
}

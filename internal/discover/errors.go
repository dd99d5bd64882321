package discover

import (
	"errors"
	"fmt"
	"strings"

	"github.com/imagesync/imagesync/internal/dockerfile"
)

// Errors is every problem one discovery run found, so that a repository
// with several is fixed in one round rather than one run per problem. The
// order is fixed: the compose files (by service), then the Dockerfiles of
// discover.dockerfiles (by path), then the config's entries.
type Errors []error

// Error lists the problems one per line; a message of several lines is
// indented under its first.
func (e Errors) Error() string {
	if len(e) == 1 {
		return e[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "discovery found %d problems:", len(e))
	for _, err := range e {
		first, rest, _ := strings.Cut(err.Error(), "\n")
		b.WriteString("\n  - " + first)
		if rest != "" {
			b.WriteString("\n    " + strings.ReplaceAll(rest, "\n", "\n    "))
		}
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As every problem.
func (e Errors) Unwrap() []error { return e }

// add appends err to e, each problem of a joined error on its own.
func (e *Errors) add(err error) {
	*e = append(*e, flatten(err)...)
}

// flatten lists the problems of err: those of a joined error (errors.Join,
// Errors) one by one, recursively; nil has none.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	multi, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, inner := range multi.Unwrap() {
		out = append(out, flatten(inner)...)
	}
	return out
}

// err returns e as an error, or nil without problems.
func (e Errors) err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// templateHint explains a Dockerfile value holding "{{": the file is a
// template that another tool renders before docker reads it.
const templateHint = "it looks like a template placeholder: render the file first, or exclude it with discover.exclude"

// composeTemplateHint is templateHint for a compose file, which is listed
// in discover.compose rather than found by a glob.
const composeTemplateHint = "it looks like a template placeholder: render the compose file first, and list the rendered file in discover.compose"

// scanDockerfile scans a Dockerfile and adds to its error what to do
// about it in images.hcl.
func scanDockerfile(data []byte, opts dockerfile.Options) ([]dockerfile.Found, error) {
	found, err := dockerfile.Scan(data, opts)
	if err == nil {
		return found, nil
	}
	if errors.Is(err, dockerfile.ErrNoFrom) {
		err = fmt.Errorf("%w; leave it out with discover.exclude", err)
	}
	if errors.Is(err, dockerfile.ErrUnsetArg) && opts.AllStages && opts.Target == "" {
		err = fmt.Errorf("%w (every stage counts in a Dockerfile no compose service builds; "+
			"discover.dockerfile_targets narrows it to the stages of one target)", err)
	}
	if e, ok := errors.AsType[*dockerfile.Error](err); ok && e.Template {
		err = fmt.Errorf("%w (%s)", err, templateHint)
	}
	return nil, err
}

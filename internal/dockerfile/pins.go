package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/imagesync/imagesync/internal/imageref"
)

// CheckPins refuses a reference of the scan of the Dockerfile name without
// a pin, or with a pin that is not a valid reference. pins is as for
// Rewrite.
func CheckPins(name string, scan []Found, pins map[string]string) error {
	var missing []Found
	var errs []error
	for _, f := range scan {
		pin, ok := pins[f.Ref.String()]
		switch {
		case !ok || pin == "":
			missing = append(missing, f)
		case !validPin(pin):
			errs = append(errs, fmt.Errorf("%s: the pin %q of %s is not a valid image reference", name, pin, f.Ref))
		}
	}
	if len(missing) > 0 {
		errs = append([]error{missingPins(name, missing)}, errs...)
	}
	return errors.Join(errs...)
}

// validPin reports whether pin can stand for an image in a Dockerfile
// word: a valid reference without spaces or quotes.
func validPin(pin string) bool {
	if _, err := imageref.Parse(pin); err != nil {
		return false
	}
	return !strings.ContainsAny(pin, " \t\r\n'\"\\`$,=")
}

// missingPins is the error for scan references without a pin.
func missingPins(name string, missing []Found) error {
	var refs []string
	for _, f := range missing {
		refs = append(refs, fmt.Sprintf("%s (%s)", f.Ref, f.Locator))
	}
	slices.Sort(refs)
	refs = slices.Compact(refs)
	return fmt.Errorf("%s: no pinned reference to build from for %s: lock and mirror it first",
		name, strings.Join(refs, ", "))
}

// NamedContexts is the other way to build hermetically, for builders that
// take BuildKit's named contexts (docker buildx): it maps the context name
// of every image of the scan but the syntax frontend to its pin, leaving
// the Dockerfile as written. BuildKit looks an image up among the named
// contexts by its familiar name without ":latest" ("golang:1.25-alpine",
// "alpine", "quay.io/org/img:1"), whatever form the Dockerfile writes it
// in after ARG expansion, so that is the name. It also looks every named
// stage up among them, and a context named like a stage would replace the
// whole stage, so such a collision is an error. scan, dockerfileName and
// pins are as for Rewrite.
func NamedContexts(dockerfile []byte, scan []Found, dockerfileName string, pins map[string]string) (map[string]string, error) {
	if err := CheckPins(dockerfileName, scan, pins); err != nil {
		return nil, err
	}
	contexts := make(map[string]string)
	for _, f := range scan {
		if f.IsSyntax() {
			continue
		}
		name, err := contextName(f.Ref.String())
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", f.Ref, f.Locator, err)
		}
		contexts[name] = pins[f.Ref.String()]
	}
	if len(contexts) == 0 {
		return contexts, nil
	}
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dockerfileName, err)
	}
	stages, err := namedStages(dockerfileName, res.AST)
	if err != nil {
		return nil, err
	}
	for _, st := range stages {
		if _, clash := contexts[st.name]; clash {
			return nil, fmt.Errorf("%s:%d: the stage %q has the name BuildKit gives the image context of %s, which would replace the stage: rename the stage",
				dockerfileName, st.line, st.name, st.name)
		}
	}
	return contexts, nil
}

package discover

// This file makes compose-go load a model in which only the values that
// decide images can fail. A compose file is often loaded by a build script
// that sets variables first (`- ${CGROUP_MOUNT}` as a volume, a port from
// the environment); with such a variable unset, compose-go substitutes ""
// and then refuses the file: "invalid empty volume spec", a port it cannot
// parse, a number it cannot cast, a container_name that does not match the
// schema's pattern. None of those values decides an image, so LoadCompose
// loads the model without compose-go's schema validation, never converts
// the non-image fields into Go types (where sizes, durations and references
// between resources are checked), and installs casters that keep the few
// values compose-go still parses while merging from failing. The image and
// build fields stay strict: the unset tracker and readModel check them.

import (
	"maps"
	"strings"

	interp "github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/transform"
	"github.com/compose-spec/compose-go/v2/tree"
)

// containerPrefixes are the places compose declares containers at, in
// compose-go's interpolation paths: services, jobs and a service's
// pre_start init containers share the container attributes.
var containerPrefixes = []string{"services.*", "jobs.*", "services.*.pre_start.[]"}

// neutralValue is, for a list item compose-go parses from a string while it
// merges files (transform.Canonical), a value that parses.
type neutralValue struct {
	item  string // the path of the item below a container prefix
	value string
}

// neutralValues lists the list items compose-go parses from a string while
// it builds the model. TestLenientLoadNeverFails checks, for every
// attribute of compose-go's schema, that an unset variable fails nothing
// else.
var neutralValues = []neutralValue{
	{"volumes.[]", "/imagesync-unused"}, // an anonymous volume
	{"ports.[]", "1"},                   // a container port
	{"devices.[]", "/dev/null"},         // a device mapped to itself
	{"build.ssh.[]", "default"},         // the default SSH agent socket
}

// lenientLoad is the loader option that sets this up: no schema
// validation, compose's casts made lenient, parsed list items neutralized,
// and the unset tracker on the image paths.
func lenientLoad(t *unsetTracker) func(*loader.Options) {
	return func(o *loader.Options) {
		o.SkipValidation = true
		if o.Interpolate == nil {
			return // the options of loader.LoadConfigFiles, which does not interpolate
		}
		casts := make(map[tree.Path]interp.Cast, len(o.Interpolate.TypeCastMapping)+32)
		for p, cast := range o.Interpolate.TypeCastMapping {
			casts[p] = lenientCast(cast)
		}
		maps.Copy(casts, neutralCasts())
		for _, p := range imagePaths() {
			casts[p] = t.cast
		}
		o.Interpolate = &interp.Options{
			LookupValue:     o.Interpolate.LookupValue,
			TypeCastMapping: casts,
			Substitute:      t.substitute,
		}
	}
}

// lenientCast wraps one of compose's casts (to an integer, a float, a
// boolean or a umask): a value it refuses, typically the "" of an unset
// variable, becomes the zero value of the cast's type instead of an error.
func lenientCast(cast interp.Cast) interp.Cast {
	return func(value string) (any, error) {
		if v, err := cast(value); err == nil {
			return v, nil
		}
		for _, zero := range []string{"0", "false"} {
			if v, err := cast(zero); err == nil {
				return v, nil
			}
		}
		return value, nil
	}
}

// neutralCasts returns the casters of the parsed list items: a value that
// compose-go's own canonical transformation accepts is kept, any other
// becomes the item's neutral value.
func neutralCasts() map[tree.Path]interp.Cast {
	casts := map[tree.Path]interp.Cast{}
	for _, prefix := range containerPrefixes {
		for _, n := range neutralValues {
			if strings.HasPrefix(n.item, "build.") && prefix != "services.*" {
				continue // only services build
			}
			p := tree.Path(prefix + "." + n.item)
			casts[p] = func(value string) (any, error) {
				if canonicalAccepts(p, value) {
					return value, nil
				}
				return n.value, nil
			}
		}
	}
	return casts
}

// canonicalAccepts reports whether transform.Canonical, which compose-go
// runs on every file it loads, accepts value at the path pattern p.
func canonicalAccepts(p tree.Path, value string) bool {
	model, ok := modelAt(p.Parts(), value).(map[string]any)
	if !ok {
		return false
	}
	_, err := transform.Canonical(model, false)
	return err == nil
}

// modelAt builds the smallest model that holds value at the path pattern
// parts: a key for "*", a one-item list for "[]".
func modelAt(parts []string, value any) any {
	if len(parts) == 0 {
		return value
	}
	inner := modelAt(parts[1:], value)
	switch parts[0] {
	case tree.PathMatchList:
		return []any{inner}
	case tree.PathMatchAll:
		return map[string]any{"x": inner}
	}
	return map[string]any{parts[0]: inner}
}

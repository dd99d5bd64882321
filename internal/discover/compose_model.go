package discover

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeModel is what LoadCompose takes from the model compose-go merged:
// the project name and, per service, the fields that decide images. The
// rest of the model is never converted, so a value there cannot fail.
type composeModel struct {
	name     string
	services map[string]modelService
}

// modelService is a service's image and build section, and what decides
// whether it counts: its profiles, and a provider that runs it without
// an image.
type modelService struct {
	image    string
	build    *types.BuildConfig // only the fields of buildImageKeys; nil without build
	profiles []string
	provider bool
}

// buildImageKeys are the keys of a build section that decide what is built.
var buildImageKeys = []string{"context", "dockerfile", "dockerfile_inline", "target", "args", "additional_contexts", "platforms"}

// readModel takes the services' image-deciding fields from a model loaded
// without schema validation, checking what the schema would have checked
// there: the type of each value and the attribute names, so that a
// misspelt `imgae:` or `dockerfil:` is an error rather than a service
// without image. Every problem is reported, in service order.
func readModel(dict map[string]any) (*composeModel, error) {
	m := &composeModel{services: map[string]modelService{}}
	m.name, _ = dict["name"].(string)
	raw, ok := dict["services"].(map[string]any)
	if !ok && dict["services"] != nil {
		return nil, errors.New("services must be a mapping")
	}
	attrs := schemaAttributes()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		svc, ok := raw[name].(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("services.%s must be a mapping", name))
			continue
		}
		errs = append(errs, unknownKeys("services."+name, svc, attrs.service)...)
		var s modelService
		if v, ok := svc["image"]; ok {
			if s.image, ok = v.(string); !ok {
				errs = append(errs, fmt.Errorf("services.%s.image must be a string, not %T", name, v))
			}
		}
		if v, ok := svc["build"]; ok {
			b, err := readBuild(name, v, attrs.build)
			errs = append(errs, err)
			s.build = b
		}
		s.provider = svc["provider"] != nil
		if v, ok := svc["profiles"]; ok {
			var err error
			s.profiles, err = stringList("services."+name+".profiles", v)
			errs = append(errs, err)
		}
		m.services[name] = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// readBuild converts the image-deciding keys of a build section (which
// compose-go's canonical transformation has made a mapping) with
// compose-go's own decoder.
func readBuild(service string, v any, known map[string]bool) (*types.BuildConfig, error) {
	raw, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("services.%s.build must be a string or a mapping, not %T", service, v)
	}
	errs := unknownKeys("services."+service+".build", raw, known)
	picked := map[string]any{}
	for _, k := range buildImageKeys {
		if val, ok := raw[k]; ok {
			picked[k] = val
		}
	}
	b := &types.BuildConfig{}
	if err := loader.Transform(picked, b); err != nil {
		errs = append(errs, fmt.Errorf("services.%s.build: %w", service, err))
	}
	return b, errors.Join(errs...)
}

// unknownKeys reports the keys of m that are neither known nor an x-
// extension, as compose's schema does.
func unknownKeys(path string, m map[string]any, known map[string]bool) []error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !known[k] && !strings.HasPrefix(k, "x-") {
			errs = append(errs, fmt.Errorf("%s.%s: not a compose attribute", path, k))
		}
	}
	return errs
}

// composeAttributes are the attribute names compose's schema allows.
type composeAttributes struct{ service, build map[string]bool }

// schemaAttributes reads the attribute names of a service and of its build
// section from compose-go's inventory of its schema.
func schemaAttributes() composeAttributes {
	a := composeAttributes{service: map[string]bool{}, build: map[string]bool{}}
	for _, p := range schema.AttributePaths() {
		parts := p.Parts()
		switch {
		case len(parts) == 3 && parts[0] == "services":
			a.service[parts[2]] = true
		case len(parts) == 4 && parts[0] == "services" && parts[2] == "build":
			a.build[parts[3]] = true
		}
	}
	return a
}

// stringList reads a list of strings of the model.
func stringList(path string, v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a list of strings, not %T", path, v)
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("%s must be a list of strings, not a list holding %T", path, item)
		}
		out = append(out, s)
	}
	return out, nil
}

// active reports whether a service with these profiles counts when the
// given profiles are active (nil: every profile), as docker compose
// decides: a service without profiles always does.
func active(service, profiles []string) bool {
	if len(service) == 0 || profiles == nil || slices.Contains(profiles, "*") {
		return true
	}
	for _, p := range service {
		if slices.Contains(profiles, p) {
			return true
		}
	}
	return false
}

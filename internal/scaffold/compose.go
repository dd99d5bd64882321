package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ComposeFile is what init reads of one compose file, alone, before any
// merge: enough to tell which files are layered on which. Compose itself
// (compose-go) loads the projects init proposes, in discovery.
type ComposeFile struct {
	Path string // slash path relative to the root
	// Name is the top-level name:, "" when absent or interpolated.
	Name     string
	Services map[string]ComposeService
	// Uses are the files it includes or extends services from, relative
	// to the root: they are parts of this file's project, not projects.
	Uses []string
	// Vendored is the directory of other projects' code it is under, ""
	// for the repository's own.
	Vendored string
}

// ComposeService is what decides, for grouping, what a service is: its
// image, its build, and whether it extends another (which may give both).
type ComposeService struct {
	Image   string // as written, before interpolation
	Build   string // the build context and Dockerfile as written, "" without build
	Extends bool
	// Args are the service's build arguments with a literal value (no
	// interpolation): a value the repository gives a Dockerfile's ARG.
	Args map[string]string
}

// complete reports whether the service says what it runs, alone (image,
// build, or extends): docker compose refuses a service without either.
func (s ComposeService) complete() bool { return s.Image != "" || s.Build != "" || s.Extends }

// sets reports whether the service decides its image: it names one or
// builds one.
func (s ComposeService) sets() bool { return s.Image != "" || s.Build != "" }

// composeName reports whether a file name is named like a compose file:
// compose.yaml, docker-compose.prod.yml, app-compose.yml, ...
func composeName(name string) bool {
	lower := strings.ToLower(name)
	return strings.Contains(lower, "compose") && isYAMLName(lower)
}

// isYAMLName reports whether a file name ends in .yaml or .yml.
func isYAMLName(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// parseCompose reads a compose file on its own. ok is false when the
// document is not a compose file (no top-level services mapping of
// services, or Kubernetes' apiVersion and kind): another kind of YAML.
func parseCompose(rel string, data []byte) (f ComposeFile, ok bool, err error) {
	var doc map[string]any
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); errors.Is(err, io.EOF) {
		// Only comments: a compose-named file is a compose file without
		// services (a layer kept empty for forks to fill).
		return ComposeFile{Path: rel}, composeName(path.Base(rel)), nil
	} else if err != nil {
		return f, false, err
	}
	services, isMap := doc["services"].(map[string]any)
	if !isMap || doc["apiVersion"] != nil || doc["kind"] != nil {
		return f, false, nil
	}
	f = ComposeFile{Path: rel, Services: map[string]ComposeService{}}
	if name, _ := doc["name"].(string); !strings.Contains(name, "$") {
		f.Name = name
	}
	dir := path.Dir(rel)
	for name, v := range services {
		svc, _ := v.(map[string]any)
		s := ComposeService{}
		s.Image, _ = svc["image"].(string)
		s.Build, s.Args = buildOf(svc["build"])
		if ext, found := svc["extends"]; found {
			s.Extends = true
			if m, isMap := ext.(map[string]any); isMap {
				if file, _ := m["file"].(string); file != "" {
					f.Uses = append(f.Uses, path.Join(dir, file))
				}
			}
		}
		f.Services[name] = s
	}
	f.Uses = append(f.Uses, includes(dir, doc["include"])...)
	slices.Sort(f.Uses)
	f.Uses = slices.Compact(f.Uses)
	return f, true, nil
}

// buildOf describes a service's build: the context, then the Dockerfile
// ("" without build), and its literal build arguments.
func buildOf(v any) (string, map[string]string) {
	switch b := v.(type) {
	case string:
		return b, nil
	case map[string]any:
		context, _ := b["context"].(string)
		if context == "" {
			context = "."
		}
		desc := context
		if df, _ := b["dockerfile"].(string); df != "" {
			desc += " " + df
		}
		if target, _ := b["target"].(string); target != "" {
			desc += " target " + target
		}
		if inline, _ := b["dockerfile_inline"].(string); inline != "" {
			desc += " inline " + inline
		}
		return desc, literalArgs(b["args"])
	}
	return "", nil
}

// literalArgs returns the build arguments whose value is written out,
// from a mapping or a list of KEY=VALUE.
func literalArgs(v any) map[string]string {
	out := map[string]string{}
	add := func(k string, val any) {
		s := fmt.Sprint(val)
		if val != nil && s != "" && !strings.Contains(s, "$") {
			out[k] = s
		}
	}
	switch a := v.(type) {
	case map[string]any:
		for k, val := range a {
			add(k, val)
		}
	case []any:
		for _, item := range a {
			if s, ok := item.(string); ok {
				if k, val, found := strings.Cut(s, "="); found {
					add(k, val)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// includes lists the files of a top-level include: (strings, or mappings
// whose path is a string or a list), relative to the root.
func includes(dir string, v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, item := range list {
		switch it := item.(type) {
		case string:
			out = append(out, path.Join(dir, it))
		case map[string]any:
			switch p := it["path"].(type) {
			case string:
				out = append(out, path.Join(dir, p))
			case []any:
				for _, s := range p {
					if s, ok := s.(string); ok {
						out = append(out, path.Join(dir, s))
					}
				}
			}
		}
	}
	return out
}

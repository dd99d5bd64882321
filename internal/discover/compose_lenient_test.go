package discover

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/tree"
	"go.yaml.in/yaml/v4"
)

// setValues are values tried for a variable to find out whether a compose
// file can be loaded at all once the variable is set.
var setValues = []string{"1", "x", "/x", "x=y", "x:/y", "true"}

// TestLenientLoadNeverFails puts an unset variable into every attribute of
// compose-go's schema that is not an image field, as a value, a list item
// and a map value, and checks that the file loads whenever it loads with the
// variable set to some value: a field that decides no image never fails
// discovery, whatever compose-go parses now or later.
func TestLenientLoadNeverFails(t *testing.T) {
	paths := schema.AttributePaths()
	tried := 0
	for _, p := range paths {
		if strictAttribute(p) {
			continue
		}
		for _, shape := range []string{"", tree.PathMatchList, tree.PathMatchAll} {
			if shape != "" && !hasChild(paths, p, shape) {
				continue
			}
			parts := p.Parts()
			if shape != "" {
				parts = append(parts, shape)
			}
			root := lenientRepo(t, parts)
			if !loadsWithSomeValue(root) {
				continue // not a place a string can go
			}
			tried++
			if _, err := LoadCompose(context.Background(), ComposeOptions{Root: root}); err != nil {
				t.Errorf("%s: an unset variable fails the load: %v", strings.Join(parts, "."), err)
			}
		}
	}
	if tried < 300 {
		t.Errorf("only %d attributes tried: the schema inventory changed shape", tried)
	}
}

// strictAttribute reports whether an unset variable at p may fail the load:
// the image and build fields, extends and include (which decide the
// services loaded).
func strictAttribute(p tree.Path) bool {
	parts := p.Parts()
	switch {
	case parts[0] == "include":
		return true
	case len(parts) < 3 || parts[0] != "services":
		return false
	case parts[2] == "build":
		return len(parts) == 3 || slices.Contains(buildImageKeys, parts[3])
	}
	return parts[2] == "image" || parts[2] == "extends"
}

// hasChild reports whether paths holds a path below p through shape.
func hasChild(paths []tree.Path, p tree.Path, shape string) bool {
	prefix := string(p) + "." + shape + "."
	for _, c := range paths {
		if strings.HasPrefix(string(c), prefix) {
			return true
		}
	}
	return false
}

// lenientRepo writes a compose file holding ${LENIENT_V} at parts.
func lenientRepo(t *testing.T, parts []string) string {
	t.Helper()
	doc, ok := modelAt(parts, "${LENIENT_V}").(map[string]any)
	if !ok {
		t.Fatalf("%v: not a mapping", parts)
	}
	if _, ok := doc["services"]; !ok {
		doc["services"] = map[string]any{"app": map[string]any{"image": "alpine:1"}}
	}
	src, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "compose.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func loadsWithSomeValue(root string) bool {
	for _, v := range setValues {
		opts := ComposeOptions{Root: root, Env: map[string]string{"LENIENT_V": v}}
		if _, err := LoadCompose(context.Background(), opts); err == nil {
			return true
		}
	}
	return false
}

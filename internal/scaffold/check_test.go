package scaffold

import (
	"context"
	"testing"
)

// TestLoadProjectsLeftOutOnce: a broken layer shared by two projects (the
// base and a variant that adds a file, as eShopOnContainers' elk layer in
// src and src-windows) is left out of both but said once: init wrote the
// same line twice in images.hcl.
func TestLoadProjectsLeftOutOnce(t *testing.T) {
	root := writeTree(t, map[string]string{
		"compose.yaml":         "services:\n  web:\n    build: web\n",
		"compose.elk.yaml":     "services:\n  elk:\n    build: elk\n", // its Dockerfile is gone
		"compose.windows.yaml": "services:\n  web:\n    image: example/web:win\n",
		"web/Dockerfile":       "FROM nginx:1.27\n",
	})
	files := map[string]ComposeFile{
		"compose.yaml":         {Path: "compose.yaml", Services: map[string]ComposeService{"web": {Build: "web"}}},
		"compose.elk.yaml":     {Path: "compose.elk.yaml", Services: map[string]ComposeService{"elk": {Build: "elk"}}},
		"compose.windows.yaml": {Path: "compose.windows.yaml", Services: map[string]ComposeService{"web": {Image: "example/web:win"}}},
	}
	projects := []ComposeProject{
		{Name: "app", Files: []string{"compose.yaml", "compose.elk.yaml"}},
		{Name: "app-windows", Files: []string{"compose.yaml", "compose.elk.yaml", "compose.windows.yaml"}, own: "compose.windows.yaml"},
	}
	loaded, left := loadProjects(context.Background(), reader{root: root}, projects, files)
	if len(left) != 1 || left[0].Path != "compose.elk.yaml" {
		t.Errorf("left out %+v, want compose.elk.yaml once", left)
	}
	for i, p := range projects {
		if loaded[i] == nil || p.LeftOut != "" {
			t.Errorf("project %s: loaded %v, left out %q, files %v", p.Name, loaded[i] != nil, p.LeftOut, p.Files)
		}
		for _, f := range p.Files {
			if f == "compose.elk.yaml" {
				t.Errorf("project %s keeps the broken layer: %v", p.Name, p.Files)
			}
		}
	}
}

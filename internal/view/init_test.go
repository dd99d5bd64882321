package view

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/scaffold"
)

// initRepo writes a repository and runs init on it.
func initRepo(t *testing.T, files map[string]string) *scaffold.Result {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := scaffold.Init(context.Background(), filepath.Join(root, "images.hcl"), "registry.example.com/team")
	if err != nil {
		t.Fatal(err)
	}
	res.Path = "images.hcl" // as the user named it
	return res
}

const deployWeb = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n" +
	"      containers:\n        - name: web\n          image: "

func TestWriteInit(t *testing.T) {
	res := initRepo(t, map[string]string{
		"compose.yaml":        "services:\n  web:\n    build: app\n  db:\n    image: postgres:16\n",
		"compose.images.yaml": "services:\n  web:\n    image: example/web:1\n  db:\n    image: postgres:16\n",
		".env":                "BASE=alpine:3.20\n", ".gitignore": "bin/\n",
		"app/Dockerfile": "ARG BASE\nFROM ${BASE}\n", "app/Dockerfile.tpl": "FROM {{ .Base }}\n", "web/web.Dockerfile": "FROM nginx\n",
		"charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n", "charts/web/templates/web.yaml": deployWeb + "nginx:1.27\n",
		"k8s/base/kustomization.yaml": "resources:\n- web.yaml\n", "k8s/base/web.yaml": deployWeb + "example/web:1\n",
		"k8s/prod/kustomization.yaml": "resources:\n- ../base\nimages:\n- name: example/web\n  newTag: \"2\"\n",
		"manifests/job.yaml":          deployWeb + "busybox:1.36\n",
	})
	var buf bytes.Buffer
	if err := WriteInit(&buf, res, "imagesync lock"); err != nil {
		t.Fatal(err)
	}
	golden(t, "init.txt", buf.Bytes())

	// What discovery reports with the file is said.
	res = initRepo(t, map[string]string{"Dockerfile": "ARG FROM\nFROM ${FROM}\n"})
	buf.Reset()
	if err := WriteInit(&buf, res, "imagesync lock"); err != nil {
		t.Fatal(err)
	}
	golden(t, "init_problems.txt", buf.Bytes())

	// Nothing found: said so.
	res = initRepo(t, nil)
	buf.Reset()
	if err := WriteInit(&buf, res, "imagesync lock"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "no compose file, Dockerfile, Helm chart, kustomization or Kubernetes manifest found") {
		t.Errorf("init of an empty repository:\n%s", buf.String())
	}
}

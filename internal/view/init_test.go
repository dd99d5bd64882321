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

func TestWriteInit(t *testing.T) {
	root := t.TempDir()
	for name, content := range map[string]string{
		"compose.yaml": "services: {}\n", ".env": "A=1\n", "deploy/docker-compose.yml": "services: {}\n",
		"app/Dockerfile": "FROM alpine\n", "app/Dockerfile.tpl": "FROM {{ .Base }}\n", "web/web.Dockerfile": "FROM nginx\n",
		"charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
	} {
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
	var buf bytes.Buffer
	if err := WriteInit(&buf, res, "imagesync lock"); err != nil {
		t.Fatal(err)
	}
	golden(t, "init.txt", buf.Bytes())

	// Nothing found: said so.
	empty := t.TempDir()
	if res, err = scaffold.Init(context.Background(), filepath.Join(empty, "images.hcl"), "localhost:5000"); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := WriteInit(&buf, res, "imagesync lock"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "no compose file, Dockerfile or Helm chart found") {
		t.Errorf("init of an empty repository:\n%s", buf.String())
	}
}

package view

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/discover"
)

// TestImagesDiscovered renders what discovery finds in testdata/discovered-repo
// as images --discovered prints it: the targets filled in from images.hcl,
// no empty DIGEST and PLATFORMS columns, long references folded; the JSON
// keeps every reference whole.
func TestImagesDiscovered(t *testing.T) {
	cfg, diags := config.Load(hclparse.NewParser(), filepath.Join("testdata", "discovered-repo", "images.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	found, err := discover.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	list := DiscoveredImages(found, cfg.TargetFor)
	var buf bytes.Buffer
	if err := WriteImagesTable(&buf, list); err != nil {
		t.Fatal(err)
	}
	golden(t, "images-discovered.txt", buf.Bytes())
	for line := range strings.Lines(buf.String()) {
		if len(line) > 140 {
			t.Errorf("a line of %d characters: %s", len(line), line)
		}
	}
	buf.Reset()
	if err := WriteImagesJSON(&buf, list); err != nil {
		t.Fatal(err)
	}
	golden(t, "images-discovered.json", buf.Bytes())
}

func TestFoldRef(t *testing.T) {
	for ref, want := range map[string]string{
		"docker.io/library/nginx:1.27-alpine":                                                  "docker.io/library/nginx:1.27-alpine",
		"quay.io/prometheus-community/postgres-exporter-with-a-long-name:v0.15.0-debian-12-r3": "quay.io/prometheus-community/\npostgres-exporter-with-a-long-name\n:v0.15.0-debian-12-r3",
		"a/b/c": "a/b/c",
		"ghcr.io/example-organisation/backup-tools@sha256:4f5e8a2b1c9d0e7f6a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f": "ghcr.io/example-organisation/\nbackup-tools@sha256:4f5e8a2b1c9d…",
		"registry.example.com/platform/mirror/nginx:1.27-alpine":                                                            "registry.example.com/platform/mirror/\nnginx:1.27-alpine",
	} {
		if got := foldRef(ref); got != want {
			t.Errorf("foldRef(%s) =\n%s\nwant\n%s", ref, got, want)
		}
	}
}

func TestCommonDir(t *testing.T) {
	for _, tt := range []struct {
		refs []string
		want string
	}{
		{[]string{"r.example.com/team/a:1", "r.example.com/team/cache/b:1"}, "r.example.com/team/"},
		{[]string{"r.example.com/team/a:1", "other.example.com/b:1"}, ""},
		{[]string{"r.example.com/team/a:1", ""}, ""},
		{[]string{"r.example.com/team/app:1", "r.example.com/team/apple:1"}, "r.example.com/team/"},
		{nil, ""},
	} {
		if got := commonDir(tt.refs); got != tt.want {
			t.Errorf("commonDir(%q) = %q, want %q", tt.refs, got, tt.want)
		}
	}
}

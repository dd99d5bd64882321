package config

import (
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
)

func TestLoadRender(t *testing.T) {
	cfg, diags := Load(hclparse.NewParser(), "testdata/valid/render.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := []struct{ name, ref string }{
		{"REDIS_IMAGE", "docker.io/library/redis:7-alpine"},
		{"POSTGRES_IMAGE", "docker.io/library/postgres:15-alpine"},
		{"MINIO_IMAGE", "quay.io/minio/minio:latest"},
	}
	env := cfg.Render.Env
	if len(env) != len(want) {
		t.Fatalf("render.env = %+v", env)
	}
	for i, w := range want {
		if env[i].Name != w.name || env[i].Ref.String() != w.ref || env[i].Range.Start.Line != 4+i {
			t.Errorf("entry %d = %s %s at %s, want %s %s on line %d", i, env[i].Name, env[i].Ref, env[i].Range, w.name, w.ref, 4+i)
		}
	}
	none, diags := Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(`target { registry = "r.example.com" }`))
	if diags.HasErrors() || none.Render.Env != nil {
		t.Errorf("without a render block: %+v, %v", none.Render, diags)
	}
}

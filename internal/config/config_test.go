package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/imageref"
)

func TestLoadValid(t *testing.T) {
	cfg, diags := Load(hclparse.NewParser(), "testdata/valid/full.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if cfg.Target.Registry != "registry.example.com/ai-infra-matrix" || cfg.Target.Layout != LayoutFlat {
		t.Errorf("target = %+v", cfg.Target)
	}
	if cfg.Target.Host() != "registry.example.com" {
		t.Errorf("host = %q", cfg.Target.Host())
	}
	ds := cfg.Discover
	if strings.Join(ds.Compose, ",") != "docker-compose.yml,docker-compose.prod.yml" || ds.Env["IMAGE_TAG"] != "v0.3.5" ||
		ds.BuildArgs["GO_VERSION"] != "1.25" || len(ds.Dockerfiles) != 1 || ds.Dockerfiles[0].Glob != "src/**/Dockerfile" ||
		len(ds.Exclude) != 1 || ds.UseOSEnv {
		t.Errorf("discover = %+v", ds)
	}
	if dt := ds.DockerfileTargets; len(dt) != 2 || dt["ci/Dockerfile"].Stage != "test" || dt["Dockerfile"].Stage != "runtime" ||
		dt["ci/Dockerfile"].Range.Start.Line != 14 {
		t.Errorf("dockerfile_targets = %+v", dt)
	}
	if len(ds.Helm) != 2 {
		t.Fatalf("helm = %+v", ds.Helm)
	}
	h := ds.Helm[0]
	if h.Name != "ai-infra-matrix" || h.Chart != "helm/ai-infra-matrix" || len(h.Values) != 2 || h.Values[1] != "helm/ai-infra-matrix/values-eu.yaml" ||
		h.Namespace != "ai-infra" || h.KubeVersion != "1.31.0" || strings.Join(h.APIVersions, ",") != "monitoring.coreos.com/v1" ||
		h.Locator() != "helm:ai-infra-matrix" || h.Range.Start.Line != 17 {
		t.Errorf("helm[0] = %+v", h)
	}
	// set keeps the order written and the types HCL wrote.
	var set []string
	for _, v := range h.Set {
		set = append(set, fmt.Sprintf("%s=%#v", v.Key, v.Value))
	}
	if got := strings.Join(set, " "); got != `backend.image.tag="v0.3.8" replicas="3" debug=false big="12345678901234567890" list=[]interface {}{"a,b"}` {
		t.Errorf("set = %s", got)
	}
	if n, ok := h.Set[1].Value.(json.Number); !ok || n.String() != "3" {
		t.Errorf("replicas = %#v, want a number", h.Set[1].Value)
	}
	if m := ds.Helm[1]; m.Name != "monitoring" || m.Chart != "charts/monitoring-1.2.0.tgz" || m.Namespace != "" || m.Set != nil {
		t.Errorf("helm[1] = %+v", m)
	}
	if len(ds.Kubernetes) != 1 || ds.Kubernetes[0].Glob != "deploy/**/*.yaml" || strings.Join(ds.Kustomize, ",") != "deploy/overlays/prod" {
		t.Errorf("kubernetes = %+v, kustomize = %v", ds.Kubernetes, ds.Kustomize)
	}
	hub := cfg.Registry("docker.io")
	if len(hub.Mirrors) != 2 || hub.Mirrors[1].Host != "127.0.0.1:5101" || hub.Mirrors[1].Prefix != "dockerhub" ||
		!hub.Mirrors[1].Insecure || hub.Mirrors[0].Insecure {
		t.Errorf("docker.io = %+v", hub)
	}
	if !cfg.Registry("quay.io").Insecure || cfg.Registry("ghcr.io").Host != "ghcr.io" {
		t.Error("registry defaults wrong")
	}
	if got := strings.Join(cfg.RegistryHosts(), ","); got != "docker.io,quay.io" {
		t.Errorf("hosts = %s", got)
	}
	if len(cfg.Images) != 2 || cfg.Images[1].Ref.String() != "docker.io/library/redis:latest" {
		t.Errorf("images = %+v", cfg.Images)
	}
	if b := cfg.Builder; b.Kind != "buildah" || strings.Join(b.Platforms, ",") != "linux/amd64,linux/arm64" || strings.Join(b.Args, " ") != "--network=host" {
		t.Errorf("builder = %+v", b)
	}
	if len(cfg.Exclude) != 1 || cfg.Exclude[0].Glob != "docker.io/redislabs/redisinsight:*" {
		t.Errorf("exclude = %+v", cfg.Exclude)
	}
}

// TestLoadInvalid decodes every file of testdata/invalid. Each declares
// the first diagnostic it expects on its first line:
// "# want: LINE:COL Summary" (lines counted in the file, comment included).
func TestLoadInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatal("no test files", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(src), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("%s lacks a '# want:' line", file)
			}
			cfg, diags := Load(hclparse.NewParser(), file)
			if !diags.HasErrors() || cfg != nil {
				t.Fatalf("no error, want %q", want)
			}
			d := diags[0]
			if d.Subject == nil {
				t.Fatalf("diagnostic without a source range: %v", d)
			}
			got := fmt.Sprintf("%d:%d %s", d.Subject.Start.Line, d.Subject.Start.Column, d.Summary)
			if !strings.HasPrefix(got, want) {
				t.Errorf("got %q, want %q (all: %v)", got, want, diags)
			}
			if d.Subject.Filename != file {
				t.Errorf("diagnostic names %q, want %q", d.Subject.Filename, file)
			}
		})
	}
}

func TestLoadCollectsAllErrors(t *testing.T) {
	src := `target {
  registry = "r.example.com"
  layout = "x"
}
image "Bad" {}
registry "nohost" {}
`
	_, diags := Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(src))
	if len(diags.Errs()) != 3 {
		t.Errorf("want 3 errors, got %v", diags)
	}
}

func TestBuilderDefault(t *testing.T) {
	cfg, diags := Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(`target { registry = "r.example.com" }`))
	if diags.HasErrors() || cfg.Builder.Kind != "buildx" || cfg.Builder.Platforms != nil {
		t.Errorf("builder = %+v, %v", cfg.Builder, diags)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, diags := Load(hclparse.NewParser(), filepath.Join(t.TempDir(), "images.hcl"))
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "images.hcl") {
		t.Errorf("diags = %v", diags)
	}
}

func TestTargetFor(t *testing.T) {
	const d = "sha256:2d0ae5a0c6a8a4f3e4c76b8c4f7e0b7a0e2bdbf4d6b5b6f1c0e4e2a3f1e5d6c7"
	overrides := `
image "docker.io/library/memcached:1.6" { target = "cache/memcached:1.6" }
image "quay.io/a/b:1" { target = "other.example.com/x/b" }
image "ghcr.io/a/c:2" { target = "c" }
image "docker.io/library/app1:1" { target = "app1:1" }
image "docker.io/library/app2:2" { target = "app2" }
image "docker.io/library/app3:3" { target = "localhost:5000/x/app3:3" }
image "docker.io/library/app4:4" { target = "team.v2/app4:4" }
`
	tests := []struct {
		layout, src, want string
	}{
		{"nested", "nginx:1.27-alpine", "reg.example.com/aim/nginx:1.27-alpine"},
		{"nested", "osixia/openldap:stable", "reg.example.com/aim/osixia/openldap:stable"},
		{"nested", "quay.io/minio/minio:latest", "reg.example.com/aim/minio/minio:latest"},
		{"nested", "tecnativa/tcp-proxy", "reg.example.com/aim/tecnativa/tcp-proxy:latest"},
		{"nested", "ai-infra-backend:v0.3.5", "reg.example.com/aim/ai-infra-backend:v0.3.5"},
		{"nested", "ghcr.io/org/team/tool:1", "reg.example.com/aim/org/team/tool:1"},
		{"nested", "nginx@" + d, "reg.example.com/aim/nginx@" + d},
		{"nested", "nginx:1.27@" + d, "reg.example.com/aim/nginx:1.27"},
		{"flat", "osixia/openldap:stable", "reg.example.com/aim/openldap:stable"},
		{"flat", "quay.io/minio/minio:latest", "reg.example.com/aim/minio:latest"},
		{"flat", "nginx:1.27", "reg.example.com/aim/nginx:1.27"},
		{"nested", "memcached:1.6", "reg.example.com/aim/cache/memcached:1.6"},
		{"nested", "quay.io/a/b:1", "other.example.com/x/b:1"},
		{"nested", "ghcr.io/a/c:2", "reg.example.com/aim/c:2"},
		// Issue 19 case 7: a target without a host is under
		// target.registry, never docker.io/library/app1:1.
		{"nested", "app1:1", "reg.example.com/aim/app1:1"},
		{"flat", "app2:2", "reg.example.com/aim/app2:2"},
		{"nested", "app3:3", "localhost:5000/x/app3:3"},
		{"nested", "app4:4", "team.v2/app4:4"},
	}
	for _, tt := range tests {
		t.Run(tt.layout+"/"+tt.src, func(t *testing.T) {
			src := fmt.Sprintf("target {\n registry = \"reg.example.com/aim\"\n layout = %q\n}\n%s", tt.layout, overrides)
			cfg, diags := Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(src))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, err := cfg.TargetFor(imageref.MustParse(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("TargetFor(%s) = %s, want %s", tt.src, got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.hcl")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err == nil {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), src)
		if diags.HasErrors() != (cfg == nil) {
			t.Fatalf("config %v with diagnostics %v", cfg, diags)
		}
		if cfg == nil {
			return
		}
		if cfg.Target.Registry == "" {
			t.Fatal("valid config without target registry")
		}
		for _, img := range cfg.Images {
			if _, err := cfg.TargetFor(img.Ref); err != nil {
				t.Fatalf("accepted image block with unusable target: %v", err)
			}
		}
	})
}

func TestLoadComposeProjects(t *testing.T) {
	cfg, diags := Load(hclparse.NewParser(), "testdata/valid/compose.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ds := cfg.Discover
	if ds.Compose != nil || ds.EnvFiles != nil || len(ds.ComposeProjects) != 3 || ds.Env["TAG"] != "v1" {
		t.Fatalf("discover = %+v", ds)
	}
	var got []string
	for _, p := range ds.ComposeProjects {
		got = append(got, fmt.Sprintf("%s files=%s dir=%q env_files=%v profiles=%v all=%v line=%d", p.Name, strings.Join(p.Files, ","),
			p.ProjectDirectory, p.EnvFiles, p.Profiles, p.AllProfiles(), p.Range.Start.Line))
	}
	want := []string{
		`voting files=compose.yaml,compose.observability.yaml dir="" env_files=[] profiles=[] all=true line=4`,
		`result-test files=result/tests/docker-compose.test.yml dir="result" env_files=[result/tests/test.env] profiles=[e2e *] all=true line=7`,
		`minimal files=minimal/compose.yaml dir="" env_files=[] profiles=[] all=false line=13`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("projects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ds.ComposeProjects[0].EnvFiles != nil || ds.ComposeProjects[0].Profiles != nil {
		t.Error("unset env_files and profiles must stay nil (their defaults)")
	}
}

package discover

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// kubeRepo copies testdata/kube/repo (a compose file, a Helm chart, a
// kustomize overlay and plain manifests of one stack) to a temporary
// directory and vendors testdata/kube/postgresql into the chart's charts/
// as the .tgz `helm dependency build` leaves there.
func kubeRepo(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), repoName)
	if err := os.CopyFS(root, os.DirFS("testdata/kube/repo")); err != nil {
		t.Fatal(err)
	}
	sub, err := loader.LoadDir("testdata/kube/postgresql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chartutil.Save(sub, filepath.Join(root, "helm", "stack", "charts")); err != nil {
		t.Fatal(err)
	}
	return root
}

const stackConfig = `
discover {
  helm "stack" {
    chart        = "helm/stack"
    api_versions = ["monitoring.coreos.com/v1"]
  }
  kustomize  = ["deploy/overlays/prod"]
  kubernetes = ["deploy/manifests/*.yaml"]
}
`

func TestDiscoverKubernetes(t *testing.T) {
	root := kubeRepo(t)
	r, err := Run(context.Background(), parseConfig(t, root, stackConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"image docker.io/library/alpine:3.20 <- deploy/manifests/list.yaml#Pod/dev/debug.containers[shell], deploy/manifests/list.yaml#Pod/ops/debug.containers[shell]",
		"image docker.io/library/busybox:1.36 <- helm:stack#Job/db-migrate.initContainers[wait] (hook pre-install)",
		"image docker.io/library/busybox@sha256:2222222222222222222222222222222222222222222222222222222222222222 <- helm:stack#Deployment/ai-infra-backend.containers[pinned]",
		"image docker.io/library/golang:1.25-alpine <- backend/Dockerfile#FROM 0",
		"image docker.io/library/memcached:1.6 <- helm:stack#Deployment/cache.containers[memcached]",
		"image docker.io/library/nginx:1.27-alpine <- docker-compose.yml#services.web.image, helm:stack#Deployment/ai-infra-backend.containers[gateway]",
		"image docker.io/library/postgres:15-alpine <- helm:stack#StatefulSet/stack-postgresql.containers[postgresql]",
		"image docker.io/library/python:3.13-alpine <- helm:stack#CronJob/backup.containers[backup]",
		"image docker.io/library/redis:7-alpine <- kustomize:deploy/overlays/prod#Deployment/worker.containers[worker]",
		"image docker.io/tecnativa/tcp-proxy:latest <- deploy/manifests/multi.yaml#DaemonSet/agent.containers[agent]",
		"image quay.io/prometheus/prometheus:v2.53.0 <- helm:stack#Prometheus/main.spec.image",
		// The chart runs the image compose builds: that build, not an image to mirror.
		"build docker.io/library/ai-infra-backend:v0.3.5 service=backend context=backend dockerfile=backend/Dockerfile bases=docker.io/library/golang:1.25-alpine " +
			"<- docker-compose.yml#services.backend.build, helm:stack#Deployment/ai-infra-backend.containers[backend], helm:stack#Job/db-migrate.containers[migrate] (hook pre-install)",
	}
	if got := render(r); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The custom resource's "image" that is no reference is a warning that
	// says how to silence it; the RoleBinding's roleRef is never looked at.
	if len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], `helm:stack#Dashboard/main.spec.image: invalid image reference "Grafana default"`) ||
		!strings.Contains(r.Warnings[0], `add "helm:stack#Dashboard/main.spec.image" to the top-level exclude`) {
		t.Errorf("warnings = %q", r.Warnings)
	}
}

func TestDiscoverKubernetesValuesAndExclude(t *testing.T) {
	root := kubeRepo(t)
	cfg := parseConfig(t, root, `
discover {
  helm "stack" {
    chart  = "helm/stack"
    values = ["helm/stack/values-eu.yaml", "helm/stack/values-prod.yaml"]
    set    = { "gateway.image.tag" = "1.28-alpine" }
  }
}
exclude = ["helm:stack#Deployment/cache.*", "docker.io/library/busybox@*"]
`)
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(render(r), "\n")
	for _, want := range []string{
		"python:3.12-alpine <- helm:stack#CronJob/backup",                                 // values-prod.yaml, listed last, wins over values-eu.yaml
		"nginx:1.28-alpine <- helm:stack#Deployment/ai-infra-backend.containers[gateway]", // set wins over the files
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	for _, gone := range []string{"memcached", "busybox@sha256", "prometheus", "python:3.13"} {
		if strings.Contains(got, gone) {
			t.Errorf("%s should be gone:\n%s", gone, got)
		}
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings = %q (monitoring is disabled in values-prod.yaml)", r.Warnings)
	}
}

func TestDiscoverKubernetesTargetRegistry(t *testing.T) {
	root := kubeRepo(t)
	// Production values point the chart at the mirror itself.
	cfg := parseConfig(t, root, `
discover {
  helm "stack" {
    chart = "helm/stack"
    set   = { "global.imageRegistry" = "registry.example.com/team" }
  }
}
# The chart keeps "library/" under the registry; the mirror has to agree.
image "docker.io/library/postgres:15-alpine" {
  target = "library/postgres:15-alpine"
}
`)
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(render(r), "\n")
	for _, want := range []string{
		// matched back to the compose image whose target it is
		"image docker.io/library/nginx:1.27-alpine <- docker-compose.yml#services.web.image, helm:stack#Deployment/ai-infra-backend.containers[gateway]",
		// and to the image block
		"image docker.io/library/postgres:15-alpine <- helm:stack#StatefulSet/stack-postgresql.containers[postgresql], images.hcl#image.docker.io/library/postgres:15-alpine",
		// and to the build
		"helm:stack#Deployment/ai-infra-backend.containers[backend]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "registry.example.com") {
		t.Errorf("the mirror is mirrored into itself:\n%s", got)
	}

	// Without the image block nothing has that target: an error that says
	// what to do.
	cfg = parseConfig(t, root, `
discover {
  helm "stack" {
    chart = "helm/stack"
    set   = { "global.imageRegistry" = "registry.example.com/team" }
  }
}
`)
	_, err = Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "helm:stack#StatefulSet/stack-postgresql.containers[postgresql]: registry.example.com/team/library/postgres:15-alpine is in target.registry") ||
		!strings.Contains(err.Error(), "render the objects with the upstream registry") {
		t.Errorf("err = %v", err)
	}
}

func TestDiscoverKubernetesErrors(t *testing.T) {
	root := kubeRepo(t)
	files := map[string]string{
		"deploy/bad/pod.yaml":              "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: \"nginx:\"}]}\n",
		"deploy/bad/template.yaml":         "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Values.name }}\n",
		"deploy/remote/kustomization.yaml": "resources:\n  - github.com/org/repo//deploy?ref=v1\n",
	}
	writeFiles(t, root, slices.Sorted(maps.Keys(files)), files)
	cfg := parseConfig(t, root, `
discover {
  helm "broken" {
    chart = "helm/broken"
  }
  helm "stack" {
    chart = "helm/stack"
    set   = { "backend.image.tag" = "Bad Tag" }
  }
  kustomize  = ["deploy/remote"]
  kubernetes = ["deploy/bad/*.yaml"]
}
`)
	_, err := Run(context.Background(), cfg)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		`images.hcl:6,3: helm "broken": chart broken declares dependencies that are not vendored under charts/: redis 18.0.0 from oci://registry-1.docker.io/bitnamicharts; run "helm dependency build"`,
		`helm:stack#Deployment/ai-infra-backend.containers[backend]: invalid image reference "ai-infra-backend:Bad Tag"`,
		`helm:stack#Job/db-migrate.containers[migrate] (hook pre-install): invalid image reference "ai-infra-backend:Bad Tag"`,
		`images.hcl:13,16: kustomize "deploy/remote": deploy/remote/kustomization.yaml: resources: "github.com/org/repo//deploy?ref=v1" is a remote reference`,
		`deploy/bad/pod.yaml#Pod/p.containers[c]: invalid image reference "nginx:"`,
		`deploy/bad/template.yaml: document 1: `,
	}
	if len(errs) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("problem %d = %q, want %q", i, errs[i], w)
		}
	}
	if !strings.Contains(errs[5].Error(), "it looks like a template") {
		t.Errorf("no template hint: %v", errs[5])
	}
}

func TestDiscoverKubernetesGlobSkipsKustomizations(t *testing.T) {
	root := kubeRepo(t)
	r, err := Run(context.Background(), parseConfig(t, root, "discover {\n  kubernetes = [\"deploy/**/*.yaml\"]\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(render(r), "\n")
	if !strings.Contains(got, "docker.io/library/redis:6 <- deploy/base/worker.yaml#Deployment/worker.containers[worker]") {
		t.Errorf("base manifest not read:\n%s", got)
	}
}

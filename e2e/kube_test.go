package e2e

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/imagesync/imagesync/internal/helmrender"
	"github.com/imagesync/imagesync/internal/kube"
	"helm.sh/helm/v3/pkg/chartutil"
)

// kubeStack is one stack deployed two ways, as the teams we build for do:
// a compose file (with a service the repository builds) and a Helm chart
// for production, plus a kustomize overlay and plain manifests. TARGET is
// replaced by the target registry's namespace.
var kubeStack = map[string]string{
	"docker-compose.yml": `services:
  web:
    image: nginx:1.27-alpine
  db:
    image: postgres:15-alpine
  backend:
    image: stack-backend:v1
    build: ./backend
`,
	"backend/Dockerfile": "FROM golang:1.25-alpine\nCOPY main.go /src/\n",
	"backend/main.go":    "package main\n",
	"helm/stack/Chart.yaml": `apiVersion: v2
name: stack
version: 1.0.0
dependencies:
  - name: cache
    version: 0.1.0
    repository: https://charts.example.com
`,
	"helm/stack/values.yaml": `global:
  imageRegistry: ""
gateway: {repository: nginx, tag: 1.27-alpine}
backup: node:18-alpine
`,
	// Production pulls the gateway from the mirror itself.
	"helm/stack/values-prod.yaml": "global:\n  imageRegistry: TARGET\nbackup: node:22-alpine\n",
	"helm/stack/templates/app.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    spec:
      containers:
        - name: backend
          image: stack-backend:v1
        - name: gateway
          image: "{{ with .Values.global.imageRegistry }}{{ . }}/{{ end }}{{ .Values.gateway.repository }}:{{ .Values.gateway.tag }}"
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: backup, image: "{{ .Values.backup }}"}]
---
apiVersion: minio.min.io/v2
kind: Tenant
metadata: {name: storage}
spec:
  image: quay.io/minio/minio:latest
---
apiVersion: example.com/v1
kind: Dashboard
metadata: {name: main}
spec: {image: "Grafana default"}
`,
	"helm/stack/templates/migrate.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {helm.sh/hook: pre-install}
spec:
  template:
    spec:
      initContainers: [{name: wait, image: "alpine:latest"}]
      containers: [{name: migrate, image: "python:3.13-alpine"}]
`,
	"chart-src/cache/Chart.yaml": "apiVersion: v2\nname: cache\nversion: 0.1.0\n",
	"chart-src/cache/templates/redis.yaml": `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: cache}
spec: {template: {spec: {containers: [{name: redis, image: "redis:7-alpine"}]}}}
`,
	"deploy/base/kustomization.yaml": "resources: [ldap.yaml]\n",
	"deploy/base/ldap.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: ldap}
spec: {template: {spec: {containers: [{name: ldap, image: "osixia/openldap:1.5.0"}]}}}
`,
	"deploy/prod/kustomization.yaml": "resources: [../base]\nimages:\n  - name: osixia/openldap\n    newTag: stable\n",
	"deploy/extra/admin.yaml": `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: admin}
    spec: {containers: [{name: ui, image: "osixia/phpldapadmin:stable"}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: proxy}
spec: {template: {spec: {containers: [{name: proxy, image: "tecnativa/tcp-proxy:latest"}]}}}
`,
}

// kubeRepo writes kubeStack and its images.hcl for the stack's registries,
// and vendors the cache chart as the .tgz `helm dependency build` leaves.
func (s *stack) kubeRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "stack")
	target := s.target.Host() + "/stack"
	for name, content := range kubeStack {
		writeFile(t, filepath.Join(dir, name), strings.ReplaceAll(content, "TARGET", target))
	}
	ch, err := loader.LoadDir(filepath.Join(dir, "chart-src", "cache"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chartutil.Save(ch, filepath.Join(dir, "helm", "stack", "charts")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "images.hcl"), `target {
  registry = "`+target+`"
}
discover {
  compose = ["docker-compose.yml"]
  helm "stack" {
    chart  = "helm/stack"
    values = ["helm/stack/values-prod.yaml"]
  }
  kustomize  = ["deploy/prod"]
  kubernetes = ["deploy/extra/*.yaml"]
}
builder {
  kind = "buildah"
}
registry "docker.io" {
  mirrors = ["`+s.hub.URL()+`"]
}
registry "quay.io" {
  mirrors = ["`+s.quay.URL()+`"]
}
`)
	return dir
}

// TestKubeStack locks, plans and applies a repository whose stack is in a
// compose file and a Helm chart: every image of both lands in the target.
func TestKubeStack(t *testing.T) {
	needBuildah(t)
	s := startStack(t)
	dir := s.kubeRepo(t)

	r := run(t, dir, 0, "lock")
	if !strings.Contains(r.stderr, `imagesync: warning: helm:stack#Dashboard/main.spec.image: invalid image reference "Grafana default"`) {
		t.Errorf("lock does not warn about the custom resource's image:\n%v", r)
	}
	l := loadLock(t, filepath.Join(dir, "images.lock"))
	var refs []string
	for _, img := range l.Images {
		refs = append(refs, img.Ref.String())
	}
	sort.Strings(refs)
	want := []string{
		"docker.io/library/alpine:latest", "docker.io/library/golang:1.25-alpine", "docker.io/library/nginx:1.27-alpine",
		"docker.io/library/node:22-alpine", "docker.io/library/postgres:15-alpine", "docker.io/library/python:3.13-alpine",
		"docker.io/library/redis:7-alpine", "docker.io/osixia/openldap:stable", "docker.io/osixia/phpldapadmin:stable",
		"docker.io/tecnativa/tcp-proxy:latest", "quay.io/minio/minio:latest",
	}
	if strings.Join(refs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("locked images:\n%s\nwant:\n%s", strings.Join(refs, "\n"), strings.Join(want, "\n"))
	}
	if len(l.Builds) != 1 || l.Builds[0].Ref.String() != "docker.io/library/stack-backend:v1" {
		t.Fatalf("builds = %+v", l.Builds)
	}
	// The gateway the chart pulls from the mirror is the compose image's
	// target: one entry with both places, nothing mirrored into itself.
	nginx := lockedImage(t, l, "docker.io/library/nginx:1.27-alpine")
	if strings.Join(nginx.Sources, " ") != "docker-compose.yml#services.web.image helm:stack#Deployment/app.containers[gateway]" {
		t.Errorf("nginx sources = %v", nginx.Sources)
	}
	for ref, loc := range map[string]string{
		"docker.io/library/alpine:latest":      "helm:stack#Job/migrate.initContainers[wait] (hook pre-install)",
		"docker.io/library/redis:7-alpine":     "helm:stack#StatefulSet/cache.containers[redis]",
		"quay.io/minio/minio:latest":           "helm:stack#Tenant/storage.spec.image",
		"docker.io/osixia/openldap:stable":     "kustomize:deploy/prod#Deployment/ldap.containers[ldap]",
		"docker.io/osixia/phpldapadmin:stable": "deploy/extra/admin.yaml#Pod/admin.containers[ui]",
	} {
		if img := lockedImage(t, l, ref); strings.Join(img.Sources, " ") != loc {
			t.Errorf("%s sources = %v, want %s", ref, img.Sources, loc)
		}
	}

	run(t, dir, 0, "lock", "--check")
	r = run(t, dir, 0, "images", "--discovered")
	if !strings.Contains(r.stdout, "helm:stack#Deployment/app.containers[backend]") || !strings.Contains(r.stdout, "helm:stack#CronJob/backup.containers[backup]") {
		t.Errorf("images --discovered lacks the chart's locators:\n%s", r.stdout)
	}
	r = run(t, dir, 2, "plan", "--detailed-exitcode")
	if !strings.Contains(r.stdout, "Plan: 11 to create, 0 to update, 1 to build, 0 to rebuild, 0 unchanged.") {
		t.Fatalf("plan:\n%v", r)
	}
	r = run(t, dir, 0, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "Apply complete! Images: 11 created, 0 updated, 1 built, 0 rebuilt, 0 unchanged.") {
		t.Fatalf("apply:\n%v", r)
	}
	for _, img := range l.Images {
		if got := headDigest(t, img.Target.String()); got != img.Digest.String() {
			t.Errorf("%s: target %s holds %q, want %s", img.Ref, img.Target, got, img.Digest)
		}
	}
	if headDigest(t, l.Builds[0].Target.String()) == "" {
		t.Errorf("the build %s is not in the target", l.Builds[0].Target)
	}
	run(t, dir, 0, "plan", "--detailed-exitcode")
	checkRenderKubernetes(t, s, dir)

	// lock --check renders again, offline: with every registry gone, a
	// changed values file still shows as a stale lock.
	for _, srv := range []interface{ Close() error }{s.hub, s.quay, s.target} {
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
	}
	run(t, dir, 0, "lock", "--check")
	replaceInFile(t, filepath.Join(dir, "helm", "stack", "values-prod.yaml"), "node:22-alpine", "node:18-alpine")
	r = run(t, dir, 1, "lock", "--check")
	if !strings.Contains(r.stderr, "+ docker.io/library/node:18-alpine: not in images.lock") ||
		!strings.Contains(r.stderr, "- docker.io/library/node:22-alpine: in images.lock but no longer referenced") {
		t.Errorf("lock --check after a values change:\n%v", r)
	}
}

// checkRenderKubernetes pipes the chart as `helm template -f
// values-prod.yaml` renders it (Helm's SDK; the gateway then already names
// the mirror, by tag), plus a pod whose image the lock
// does not hold, through render kubernetes: every locked image comes out
// as <target repository>@<digest> that resolves in the target, the other
// is left alone and reported; --strict refuses the stream.
func checkRenderKubernetes(t *testing.T, s *stack, dir string) {
	t.Helper()
	rendered, err := helmrender.Render(t.Context(), helmrender.Release{Name: "stack", Chart: filepath.Join(dir, "helm", "stack"),
		ValuesFiles: []string{filepath.Join(dir, "helm", "stack", "values-prod.yaml")}, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	stream := rendered.Manifest
	for _, h := range rendered.Hooks {
		stream += "\n---\n" + h.Manifest
	}
	stream += "\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: extra}\nspec: {containers: [{name: x, image: \"busybox:1.36\"}]}\n"
	in := filepath.Join(t.TempDir(), "chart.yaml")
	writeFile(t, in, stream)

	r := run(t, dir, 0, "render", "kubernetes", "-f", in)
	if !strings.Contains(r.stderr, "Pod/extra spec.containers[0].image: docker.io/library/busybox:1.36 is not in images.lock") {
		t.Errorf("render kubernetes does not report the image it left alone:\n%v", r)
	}
	objs, err := kube.Decode([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	pinned := 0
	for _, o := range objs {
		for _, f := range kube.Images(o.Content) {
			switch {
			case f.Value == "busybox:1.36":
			case !f.Pod && o.Kind == "Dashboard":
				// "Grafana default" is no reference: left as it is
			default:
				m := pinnedRef.FindStringSubmatch(f.Value)
				if m == nil || !strings.HasPrefix(m[1], s.target.Host()+"/stack/") {
					t.Errorf("%s/%s %s = %q, not <target repository>@sha256:...", o.Kind, o.Name, f.Path, f.Value)
				} else if got := targetDigest(t, f.Value); got != m[2] {
					t.Errorf("%s/%s %s: %s resolves to %s in the target", o.Kind, o.Name, f.Path, f.Value, got)
				}
				pinned++
			}
		}
	}
	// The chart's own images: backend (the build), gateway, backup,
	// minio, migrate and its init container, and the cache subchart's
	// redis.
	if pinned != 7 {
		t.Errorf("%d image fields pinned, want 7:\n%s", pinned, r.stdout)
	}
	r = run(t, dir, 1, "render", "kubernetes", "-f", in, "--strict")
	if r.stdout != "" || !strings.Contains(r.stderr, "1 image not in images.lock") {
		t.Errorf("render kubernetes --strict:\n%v", r)
	}
}

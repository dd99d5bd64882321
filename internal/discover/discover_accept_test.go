package discover

import (
	"context"
	"io"
	"log"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// webChart is a chart whose test hook names its Pod with randAlphaNum, as
// `helm create` scaffolds do, and which declares images in annotations.
var webChart = map[string]string{
	"charts/web/Chart.yaml": `apiVersion: v2
name: web
version: 0.1.0
annotations:
  helm.sh/images: |
    - name: operator
      image: quay.io/example/operator:2.1
    - name: exporter
      image: example/exporter:1.0
      condition: metrics.enabled
`,
	"charts/web/values.yaml": "image: nginx:1.27\nmetrics: {enabled: false}\n",
	"charts/web/templates/app.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, app: web}
spec: {template: {spec: {containers: [{name: web, image: "{{ .Values.image }}"}]}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: odd}
10: ten
`,
	"charts/web/templates/tests/test-connection.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: "{{ .Release.Name }}-test-{{ randAlphaNum 5 | lower }}"
  annotations: {helm.sh/hook: test}
spec:
  containers: [{name: wget, image: busybox:1.36}]
`,
}

// TestDiscoverRandomNames: a chart whose test Pod is named with
// randAlphaNum gives the same locators, hence the same lock, on every run:
// the object goes by its template and position. Duplicate keys (helm
// template accepts them) are read as Helm reads them, and an object that
// cannot be read and sets no image is a warning naming it.
func TestDiscoverRandomNames(t *testing.T) {
	root := newRepo(t, webChart)
	cfg := parseConfig(t, root, "discover {\n  helm \"shop\" {\n    chart = \"charts/web\"\n  }\n}\n")
	var runs []*Result
	for range 2 {
		r, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	want := []string{
		"image docker.io/library/busybox:1.36 <- helm:shop#Pod@web/templates/tests/test-connection.yaml[1].containers[wget] (hook test)",
		"image docker.io/library/nginx:1.27 <- helm:shop#Deployment/web.containers[web]",
		"image quay.io/example/operator:2.1 <- helm:shop#Chart/web.helm.sh/images[operator]",
	}
	if got := render(runs[0]); !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !reflect.DeepEqual(runs[0], runs[1]) {
		t.Errorf("two runs differ:\n%s\n%s", render(runs[0]), render(runs[1]))
	}
	if len(runs[0].Warnings) != 1 || !strings.HasPrefix(runs[0].Warnings[0],
		"helm:shop: ConfigMap/odd (template web/templates/app.yaml, document 2) cannot be read and sets no image: left out") {
		t.Errorf("warnings = %q", runs[0].Warnings)
	}

	// An image that changes between renders cannot be locked.
	files := map[string]string{"charts/web/templates/job.yaml": `apiVersion: batch/v1
kind: Job
metadata: {name: job}
spec: {template: {spec: {containers: [{name: run, image: "busybox:{{ randAlphaNum 4 }}"}]}}}
`}
	writeFiles(t, root, slices.Sorted(maps.Keys(files)), files)
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(),
		`helm "shop": Job/job (template web/templates/job.yaml, document 1): its images differ from one render to the next`) {
		t.Errorf("err = %v", err)
	}
}

// skaffoldRepo deploys with skaffold: manifests name the images skaffold
// builds by placeholders, and a compose file builds one of them too.
var skaffoldRepo = map[string]string{
	"skaffold.yaml": `apiVersion: skaffold/v4beta11
kind: Config
metadata: {name: app}
build:
  artifacts:
    - image: adservice
      context: src/adservice
      docker:
        buildArgs: {JDK: "21"}
    - image: cartservice
      context: src/cartservice/src
      docker: {dockerfile: Dockerfile.prod, target: release}
    - image: loadgenerator
      jib: {}
---
apiVersion: skaffold/v4beta11
kind: Config
metadata: {name: extra}
profiles:
  - name: gcb
    build:
      artifacts:
        - image: emailservice
          context: src/emailservice
`,
	"src/adservice/Dockerfile":                 "ARG JDK=17\nFROM eclipse-temurin:${JDK}\n",
	"src/cartservice/src/Dockerfile.prod":      "FROM mcr.microsoft.com/dotnet/sdk:9.0 AS build\nFROM mcr.microsoft.com/dotnet/runtime-deps:9.0 AS release\n",
	"src/emailservice/Dockerfile":              "FROM python:3.12-slim\n",
	"src/frontend/Dockerfile":                  "FROM golang:1.25\n",
	"compose.yaml":                             "services:\n  frontend:\n    build: src/frontend\n  tools:\n    image: team/tools\n",
	"kubernetes-manifests/tools.yaml":          deployment("tools", "team/tools"),
	"kubernetes-manifests/adservice.yaml":      deployment("adservice", "adservice"),
	"kubernetes-manifests/cartservice.yaml":    deployment("cartservice", "cartservice"),
	"kubernetes-manifests/emailservice.yaml":   deployment("emailservice", "emailservice"),
	"kubernetes-manifests/frontend.yaml":       deployment("frontend", "frontend"),
	"kubernetes-manifests/loadgenerator.yaml":  deployment("loadgenerator", "loadgenerator"),
	"kubernetes-manifests/redis.yaml":          deployment("redis-cart", "redis"),
	"kubernetes-manifests/redis-tagged.yaml":   deployment("redis-tagged", "redis:7-alpine"),
	"kubernetes-manifests/kustomization.yaml":  "resources: [adservice.yaml]\n",
	".github/workflows/ci.yaml":                "on: [push]\njobs:\n  test:\n    runs-on: ${{ matrix.os }}\n    steps: [{run: echo}]\n",
	"helm-chart/Chart.yaml":                    "apiVersion: v2\nname: boutique\nversion: 0.1.0\n",
	"helm-chart/templates/deployment.yaml":     "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
	"helm-chart/values.yaml":                   "images: {tag: v1}\n",
	"docs/notes.yaml":                          "title: [unclosed\n",
	"kubernetes-manifests/not-a-manifest.yaml": "key: value\n",
}

func deployment(name, image string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + "}\n" +
		"spec: {template: {spec: {containers: [{name: server, image: " + image + "}]}}}\n"
}

// TestDiscoverPlaceholders: a bare name in a manifest is the build it
// names (a compose service's, or skaffold's artifact, made a build from
// skaffold.yaml), or the image of that name found elsewhere, never
// docker.io/library/<name>:latest on its own; any other is a warning with
// its exclude entry. A `**/*.yaml` glob skips
// what is not a manifest, in one line.
func TestDiscoverPlaceholders(t *testing.T) {
	root := newRepo(t, skaffoldRepo)
	r, err := Run(context.Background(), parseConfig(t, root, `discover {
  kubernetes = ["**/*.yaml"]
  dockerfiles = ["src/**/Dockerfile*"]
}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"image docker.io/library/eclipse-temurin:21 <- src/adservice/Dockerfile#FROM 0",
		"image docker.io/library/golang:1.25 <- src/frontend/Dockerfile#FROM 0",
		"image docker.io/library/python:3.12-slim <- src/emailservice/Dockerfile#FROM 0",
		"image docker.io/library/redis:7-alpine <- kubernetes-manifests/redis-tagged.yaml#Deployment/redis-tagged.containers[server]",
		// a bare name that is an image found elsewhere is that image
		"image docker.io/team/tools:latest <- compose.yaml#services.tools.image, kubernetes-manifests/tools.yaml#Deployment/tools.containers[server]",
		// the build stage of cartservice's Dockerfile is not reached from its target
		"image mcr.microsoft.com/dotnet/runtime-deps:9.0 <- src/cartservice/src/Dockerfile.prod#FROM release",
		"build docker.io/library/adservice:latest service=skaffold/adservice context=src/adservice dockerfile=src/adservice/Dockerfile args=JDK=21" +
			" bases=docker.io/library/eclipse-temurin:21 <- kubernetes-manifests/adservice.yaml#Deployment/adservice.containers[server], skaffold.yaml#build.artifacts[adservice]",
		"build docker.io/library/cartservice:latest service=skaffold/cartservice context=src/cartservice/src dockerfile=src/cartservice/src/Dockerfile.prod" +
			" target=release bases=mcr.microsoft.com/dotnet/runtime-deps:9.0 <- kubernetes-manifests/cartservice.yaml#Deployment/cartservice.containers[server], skaffold.yaml#build.artifacts[cartservice]",
		"build docker.io/library/default-frontend:latest service=frontend context=src/frontend dockerfile=src/frontend/Dockerfile" +
			" bases=docker.io/library/golang:1.25 <- compose.yaml#services.frontend.build, kubernetes-manifests/frontend.yaml#Deployment/frontend.containers[server]",
		"build docker.io/library/emailservice:latest service=skaffold/emailservice context=src/emailservice dockerfile=src/emailservice/Dockerfile" +
			" bases=docker.io/library/python:3.12-slim <- kubernetes-manifests/emailservice.yaml#Deployment/emailservice.containers[server], skaffold.yaml#build.artifacts[emailservice]",
	}
	got := render(r)
	if !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantWarnings := []string{
		"discover.kubernetes matches 3 files of helm-chart, a Helm chart no discover.helm block renders: skipped",
		"discover.kubernetes: skipped 5 files that are not Kubernetes manifests: 1 in charts and kustomizations discovery renders, " +
			"or kustomization files; 4 without apiVersion and kind (.github/workflows/ci.yaml, compose.yaml, docs/notes.yaml, and 1 more)",
		`skaffold.yaml#build.artifacts[loadgenerator]: built with skaffold's jib builder, not from a Dockerfile`,
		`kubernetes-manifests/loadgenerator.yaml#Deployment/loadgenerator.containers[server]: "loadgenerator" names no registry, tag or digest`,
		`kubernetes-manifests/redis.yaml#Deployment/redis-cart.containers[server]: "redis" names no registry, tag or digest, no image this repository builds`,
	}
	if len(r.Warnings) != len(wantWarnings) {
		t.Fatalf("warnings:\n%s", strings.Join(r.Warnings, "\n"))
	}
	for i, w := range wantWarnings {
		if !strings.HasPrefix(r.Warnings[i], w) {
			t.Errorf("warning %d = %q, want %q...", i, r.Warnings[i], w)
		}
	}
	if !strings.Contains(r.Warnings[4], `if it is Docker Hub's docker.io/library/redis:latest, write that reference, `+
		`else silence this by adding "kubernetes-manifests/redis.yaml#Deployment/redis-cart.containers\\[server\\]" to the top-level exclude`) {
		t.Errorf("the warning says no way out: %s", r.Warnings[4])
	}
}

// TestDiscoverQuietLibraries: what kustomize, Helm and compose-go print
// comes back as warnings, each once, naming its source; nothing reaches
// stderr or the log.
func TestDiscoverQuietLibraries(t *testing.T) {
	root := newRepo(t, map[string]string{
		"compose.yaml":                        "services:\n  web:\n    image: nginx:1.27\nvolumes:\n  data:\n    external: {name: shared}\n",
		"deploy/base/kustomization.yaml":      "commonLabels: {app: worker}\nresources: [worker.yaml]\n",
		"deploy/base/worker.yaml":             deployment("worker", "redis:7"),
		"deploy/dev/kustomization.yaml":       "resources: [../base]\n",
		"deploy/prod/kustomization.yaml":      "bases: [../base]\n",
		"charts/app/Chart.yaml":               "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"charts/app/values.yaml":              "resources: none\n",
		"charts/app/templates/cm.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
		"charts/app/templates/deployment.yml": deployment("app", "busybox:1.36"),
	})
	cfg := parseConfig(t, root, `discover {
  helm "app" {
    chart = "charts/app"
    set   = { "resources" = { limits = { cpu = 1 } } }
  }
  kustomize = ["deploy/dev", "deploy/prod"]
  exclude   = ["vendor/**"]
}
exclude = ["docker.io/library/redis:6"]
`)
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = stderrW
	var logged strings.Builder
	logOut := log.Writer()
	log.SetOutput(&logged)
	r, err := Run(context.Background(), cfg)
	os.Stderr = stderr
	log.SetOutput(logOut)
	stderrW.Close()
	raw, _ := io.ReadAll(stderrR)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 0 || logged.Len() > 0 {
		t.Errorf("printed raw: stderr %q, log %q", raw, logged.String())
	}
	want := []string{
		"kustomize deploy/base/kustomization.yaml: Warning: 'commonLabels' is deprecated.",
		"kustomize deploy/prod/kustomization.yaml: Warning: 'bases' is deprecated.",
		"compose: volumes.data: external.name is deprecated",
		"helm app: warning: skipped value for app.resources: Not a table.",
		`images.hcl:12,11: exclude entry "docker.io/library/redis:6" matches no image`,
		`images.hcl:10,15: discover.exclude entry "vendor/**" matches no file`,
	}
	if len(r.Warnings) != len(want) {
		t.Fatalf("warnings:\n%s", strings.Join(r.Warnings, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(r.Warnings[i], w) {
			t.Errorf("warning %d = %q, want %q...", i, r.Warnings[i], w)
		}
	}
}

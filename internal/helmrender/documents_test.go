package helmrender

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeChart writes files (slash paths) under dir.
func writeChart(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// randomChart has a test hook whose Pod is named with randAlphaNum, as
// many charts' `helm create` scaffolds do, beside a template of two
// documents with stable names.
var randomChart = map[string]string{
	"Chart.yaml":  "apiVersion: v2\nname: web\nversion: 0.1.0\n",
	"values.yaml": "image: nginx:1.27\n",
	"templates/app.yaml": `apiVersion: v1
kind: Service
metadata: {name: web}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {template: {spec: {containers: [{name: web, image: "{{ .Values.image }}"}]}}}
`,
	"templates/tests/test-connection.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: "{{ .Release.Name }}-test-{{ randAlphaNum 5 | lower }}"
  annotations: {helm.sh/hook: test}
spec:
  containers: [{name: wget, image: busybox:1.36}]
`,
}

// TestRenderDocuments: every document comes with its template, its
// position in it and what a second render gives; a name from
// randAlphaNum differs between the two, nothing else does.
func TestRenderDocuments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "web")
	writeChart(t, dir, randomChart)
	r, err := Render(context.Background(), Release{Name: "shop", Chart: dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range r.Documents {
		got = append(got, fmt.Sprintf("%s[%d] events=%v varies=%v", d.Template, d.Index, d.Events, d.Content != d.Again))
	}
	want := []string{
		"web/templates/app.yaml[1] events=[] varies=false",
		"web/templates/app.yaml[2] events=[] varies=false",
		"web/templates/tests/test-connection.yaml[1] events=[test] varies=true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("documents:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := r.Documents[1]; !strings.HasPrefix(d.Content, "apiVersion: apps/v1\nkind: Deployment") {
		t.Errorf("document 2 of app.yaml is\n%s", d.Content)
	}
	if d := r.Documents[2]; !strings.Contains(d.Content, "name: \"shop-test-") || d.Content != r.Hooks[0].Manifest {
		t.Errorf("the hook's document is\n%s", d.Content)
	}
}

// TestRenderDeclaredImages: the images a chart and its enabled subcharts
// declare in helm.sh/images and artifacthub.io/images, with each entry's
// condition decided in the chart's own values and a HIP-0015 dependency
// entry only when that subchart is enabled.
func TestRenderDeclaredImages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "platform")
	writeChart(t, dir, map[string]string{
		"Chart.yaml": `apiVersion: v2
name: platform
version: 1.0.0
dependencies:
  - {name: cache, version: 0.1.0, condition: cache.enabled}
  - {name: queue, version: 0.1.0, condition: queue.enabled}
annotations:
  helm.sh/images: |
    - name: operator
      image: quay.io/example/operator:2.1
    - name: exporter
      image: example/exporter:1.0
      condition: metrics.enabled
    - name: debug
      image: busybox:1.36
      condition: debug.enabled,metrics.enabled
    - name: queue-sidecar
      image: example/queue-sidecar:3
      dependency: queue
  artifacthub.io/images: |
    - name: operator
      image: quay.io/example/operator:2.1
      whitelisted: true
`,
		"values.yaml":                       "metrics: {enabled: false}\ndebug: {enabled: true}\ncache: {enabled: true}\nqueue: {enabled: false}\n",
		"templates/cm.yaml":                 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		"charts/cache/Chart.yaml":           "apiVersion: v2\nname: cache\nversion: 0.1.0\nannotations:\n  artifacthub.io/images: |\n    - name: redis\n      image: redis:7-alpine\n    - name: tls\n      image: ghostunnel/ghostunnel:1.8\n      condition: tls.enabled\n",
		"charts/cache/values.yaml":          "tls: {enabled: true}\n",
		"charts/cache/templates/empty.yaml": "",
		"charts/queue/Chart.yaml":           "apiVersion: v2\nname: queue\nversion: 0.1.0\nannotations:\n  helm.sh/images: |\n    - image: rabbitmq:3\n",
		"charts/queue/templates/empty.yaml": "",
	})
	render := func(set ...Value) []string {
		r, err := Render(context.Background(), Release{Name: "p", Chart: dir, Set: set})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range r.Declared {
			out = append(out, fmt.Sprintf("%s %s[%d %s] %s", d.Chart, d.Annotation, d.Index, d.Name, d.Image))
		}
		return out
	}
	got := render()
	want := []string{
		"platform helm.sh/images[0 operator] quay.io/example/operator:2.1",
		"platform helm.sh/images[2 debug] busybox:1.36",
		"platform artifacthub.io/images[0 operator] quay.io/example/operator:2.1",
		"platform/charts/cache artifacthub.io/images[0 redis] redis:7-alpine",
		"platform/charts/cache artifacthub.io/images[1 tls] ghostunnel/ghostunnel:1.8",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("declared:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = render(Value{Key: "metrics.enabled", Value: true}, Value{Key: "debug.enabled", Value: false},
		Value{Key: "queue.enabled", Value: true}, Value{Key: "cache.enabled", Value: false})
	want = []string{
		"platform helm.sh/images[0 operator] quay.io/example/operator:2.1",
		"platform helm.sh/images[1 exporter] example/exporter:1.0",
		"platform helm.sh/images[3 queue-sidecar] example/queue-sidecar:3",
		"platform artifacthub.io/images[0 operator] quay.io/example/operator:2.1",
		"platform/charts/queue helm.sh/images[0 ] rabbitmq:3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("declared with other values:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

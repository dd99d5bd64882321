package discover

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imagesync/imagesync/internal/config"
)

// The large Kubernetes tree of issue 20: 25 kustomize overlays over shared
// bases and components, a few charts with subcharts, and a directory of
// manifests. Its figures (time per discovery, and the peak resident
// memory of a process that only runs it) are reported by
//
//	go test ./internal/discover -run XXX -bench KubeTree -benchtime 10x -cpu 2
//
// and recorded in docs/benchmarks.md; no test asserts them.

const (
	treeOverlays  = 25
	treeBases     = 5 // each with treeWorkloads workloads, a Service and a ConfigMap each
	treeWorkloads = 8
	treeCharts    = 3
)

// kubeTree writes the tree under a new directory and returns its config.
func kubeTree(b *testing.B) *config.Config {
	b.Helper()
	files := map[string]string{}
	for base := range treeBases {
		var resources []string
		for w := range treeWorkloads {
			name := fmt.Sprintf("b%d-app%d", base, w)
			resources = append(resources, name+".yaml")
			files[fmt.Sprintf("deploy/bases/b%d/%s.yaml", base, name)] = treeWorkload(name, w)
		}
		files[fmt.Sprintf("deploy/bases/b%d/kustomization.yaml", base)] = "commonLabels: {tier: b" + strconv.Itoa(base) + "}\n" +
			"resources: [" + strings.Join(resources, ", ") + "]\n"
	}
	files["deploy/components/metrics/kustomization.yaml"] = `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
  - target: {kind: Deployment}
    patch: |-
      - op: add
        path: /spec/template/spec/containers/-
        value: {name: exporter, image: prom/statsd-exporter:v0.26.0}
`
	for o := range treeOverlays {
		bases := []string{fmt.Sprintf("../../bases/b%d", o%treeBases), fmt.Sprintf("../../bases/b%d", (o+1)%treeBases)}
		files[fmt.Sprintf("deploy/overlays/o%02d/kustomization.yaml", o)] = fmt.Sprintf(`namespace: env-%02d
namePrefix: o%02d-
resources: [%s]
components: [../../components/metrics]
images:
  - {name: nginx, newTag: "1.%d-alpine"}
configMapGenerator:
  - {name: settings, literals: [ENV=o%02d]}
patches:
  - target: {kind: Deployment}
    patch: |-
      - op: replace
        path: /spec/replicas
        value: %d
`, o, o, strings.Join(bases, ", "), 20+o%8, o, 1+o%3)
	}
	for c := range treeCharts {
		writeTreeChart(files, fmt.Sprintf("charts/c%d", c), c)
	}
	for m := range 20 {
		files[fmt.Sprintf("deploy/manifests/m%02d.yaml", m)] = treeWorkload(fmt.Sprintf("m%02d", m), m)
	}
	root := filepath.Join(b.TempDir(), "tree")
	if err := os.Mkdir(root, 0o755); err != nil {
		b.Fatal(err)
	}
	writeFiles(b, root, slices.Sorted(maps.Keys(files)), files)
	var hcl strings.Builder
	hcl.WriteString("discover {\n  kubernetes = [\"deploy/manifests/*.yaml\"]\n  kustomize = [\n")
	for o := range treeOverlays {
		fmt.Fprintf(&hcl, "    \"deploy/overlays/o%02d\",\n", o)
	}
	hcl.WriteString("  ]\n")
	for c := range treeCharts {
		fmt.Fprintf(&hcl, "  helm \"c%d\" {\n    chart = \"charts/c%d\"\n  }\n", c, c)
	}
	hcl.WriteString("}\n")
	return parseConfig(b, root, hcl.String())
}

// treeWorkload is a Deployment, its Service and its ConfigMap.
func treeWorkload(name string, i int) string {
	images := []string{"nginx:1.27-alpine", "redis:7-alpine", "postgres:16-alpine", "example/api:" + strconv.Itoa(i)}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, labels: {app: %[1]s}}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      initContainers: [{name: init, image: busybox:1.36, command: [sh, -c, "true"]}]
      containers:
        - name: main
          image: %[2]s
          ports: [{containerPort: 8080}]
          env: [{name: MODE, value: prod}, {name: LEVEL, value: info}]
          resources: {limits: {cpu: 500m, memory: 256Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec: {selector: {app: %[1]s}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: %[1]s-config}
data: {config.yaml: "level: info\nmode: prod\n"}
`, name, images[i%len(images)])
}

// writeTreeChart adds a chart with two subcharts and ten templates.
func writeTreeChart(files map[string]string, dir string, c int) {
	files[dir+"/Chart.yaml"] = fmt.Sprintf("apiVersion: v2\nname: c%d\nversion: 1.0.0\ndependencies:\n"+
		"  - {name: db, version: 1.0.0}\n  - {name: cache, version: 1.0.0, condition: cache.enabled}\n", c)
	files[dir+"/values.yaml"] = "replicas: 2\ncache: {enabled: true}\nimage: {repository: example/web, tag: \"" + strconv.Itoa(c) + "\"}\n"
	for t := range 10 {
		files[fmt.Sprintf("%s/templates/t%d.yaml", dir, t)] = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: "{{ .Release.Name }}-t%d", labels: {app: "{{ .Chart.Name }}"}}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`, t)
	}
	for _, sub := range []string{"db", "cache"} {
		files[dir+"/charts/"+sub+"/Chart.yaml"] = "apiVersion: v2\nname: " + sub + "\nversion: 1.0.0\n"
		files[dir+"/charts/"+sub+"/values.yaml"] = "image: " + map[string]string{"db": "postgres:16", "cache": "redis:7"}[sub] + "\n"
		files[dir+"/charts/"+sub+"/templates/sts.yaml"] = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: "{{ .Release.Name }}-` + sub + `"}
spec: {template: {spec: {containers: [{name: main, image: "{{ .Values.image }}"}]}}}
`
	}
}

func BenchmarkDiscoverKubeTree(b *testing.B) {
	cfg := kubeTree(b)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Images) < 10 {
		b.Fatalf("the tree's images: %v", render(res))
	}
	before := cpuTime()
	n := 0
	for b.Loop() {
		if _, err := Run(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
		n++
	}
	// The processor time, apart from the wall time ns/op: on a shared
	// machine the latter depends on the load, the former hardly.
	b.ReportMetric((cpuTime()-before).Seconds()/float64(n), "cpu-s/op")
	if rss := peakRSS(); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	}
}

// peakRSS is the process's peak resident set (VmHWM of /proc/self/status)
// in bytes, or 0 where it cannot be read.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// cpuTime is the processor time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package kube

import (
	"fmt"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

// found renders what Images returns for every object of a YAML stream as
// "Kind/name locator=value" lines, pod fields marked with "pod".
func found(t *testing.T, src string) []string {
	t.Helper()
	objs, err := Decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		for _, f := range Images(o.Content) {
			line := fmt.Sprintf("%s/%s %s=%s", o.Kind, o.Name, f.Locator(), f.Value)
			if f.Pod {
				line += " pod"
			}
			out = append(out, line)
		}
	}
	return out
}

func TestImages(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"deployment containers in list order", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      initContainers:
        - {name: wait, image: busybox:1.36}
      containers:
        - name: api
          image: example/api:1
          envFrom:
            - configMapRef: {name: nginx}
        - {name: proxy, image: "nginx@sha256:1111111111111111111111111111111111111111111111111111111111111111"}
`, []string{"Deployment/api containers[api]=example/api:1 pod",
			"Deployment/api containers[proxy]=nginx@sha256:1111111111111111111111111111111111111111111111111111111111111111 pod",
			"Deployment/api initContainers[wait]=busybox:1.36 pod"}},
		{"pod ephemeral containers and image volumes", `
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  containers: [{name: app, image: app:1}]
  ephemeralContainers: [{name: shell, image: busybox:1.36}]
  volumes:
    - {name: models, image: {reference: example/models:v2, pullPolicy: IfNotPresent}}
    - {name: cfg, configMap: {name: cfg}}
`, []string{"Pod/debug containers[app]=app:1 pod", "Pod/debug ephemeralContainers[shell]=busybox:1.36 pod",
			"Pod/debug volumes[models].image=example/models:v2 pod"}},
		{"cronjob", `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: run, image: python:3.13-alpine}]
`, []string{"CronJob/nightly containers[run]=python:3.13-alpine pod"}},
		{"every workload kind", workloads(), []string{
			"DaemonSet/x containers[c]=daemonset:1 pod", "Job/x containers[c]=job:1 pod", "PodTemplate/x containers[c]=podtemplate:1 pod",
			"ReplicaSet/x containers[c]=replicaset:1 pod", "ReplicationController/x containers[c]=replicationcontroller:1 pod",
			"StatefulSet/x containers[c]=statefulset:1 pod", "Deployment/x containers[c]=deployment:1 pod"}},
		{"container without a name", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec: {template: {spec: {containers: [{image: a:1}]}}}
`, []string{"Deployment/x containers[0]=a:1 pod"}},
		{"custom resource: every string field named image", `
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: main}
spec:
  image: quay.io/prometheus/prometheus:v2.53.0
  containers:
    - {name: sidecar, image: "example/sidecar:1"}
  thanos: {image: {repository: thanos, tag: v1}}
  roleRef: {kind: Role, name: image}
  imagePullPolicy: Always
`, []string{"Prometheus/main spec.containers[sidecar].image=example/sidecar:1",
			"Prometheus/main spec.image=quay.io/prometheus/prometheus:v2.53.0"}},
		{"a workload kind of a custom group is a custom resource", `
apiVersion: apps.example.com/v1
kind: Deployment
metadata: {name: x}
spec: {image: custom:1}
`, []string{"Deployment/x spec.image=custom:1"}},
		{"built-in kinds that are not workloads: nothing", `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pull}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: image-puller}
subjects: [{kind: ServiceAccount, name: image}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {image: "not/an-image:to-pull"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: empty}
spec: {template: {spec: {containers: [{name: c, image: {not: a string}}]}}}
`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := found(t, tt.src)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// workloads is one object of every workload kind but Pod and CronJob,
// each with one container whose image is named after the kind.
func workloads() string {
	var b strings.Builder
	for _, k := range []struct{ apiVersion, kind string }{
		{"apps/v1", "DaemonSet"}, {"batch/v1", "Job"}, {"v1", "PodTemplate"}, {"apps/v1", "ReplicaSet"},
		{"v1", "ReplicationController"}, {"apps/v1", "StatefulSet"}, {"extensions/v1beta1", "Deployment"},
	} {
		c := fmt.Sprintf("{spec: {containers: [{name: c, image: %s:1}]}}", strings.ToLower(k.kind))
		spec := fmt.Sprintf("spec: {template: %s}", c)
		if k.kind == "PodTemplate" {
			spec = "template: " + c
		}
		fmt.Fprintf(&b, "---\napiVersion: %s\nkind: %s\nmetadata: {name: x}\n%s\n", k.apiVersion, k.kind, spec)
	}
	return b.String()
}

func TestPathString(t *testing.T) {
	objs, err := Decode([]byte(`
apiVersion: batch/v1
kind: CronJob
metadata: {name: n}
spec: {jobTemplate: {spec: {template: {spec: {initContainers: [{name: a, image: x}, {name: b, image: y}]}}}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	f := Images(objs[0].Content)
	if len(f) != 2 || f[1].Path.String() != "spec.jobTemplate.spec.template.spec.initContainers[1].image" {
		t.Errorf("fields = %+v", f)
	}
}

func TestDecode(t *testing.T) {
	src := `
# a comment-only document
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: a, namespace: one}
  - apiVersion: v1
    kind: DeploymentList
    items:
      - {apiVersion: apps/v1, kind: Deployment, metadata: {name: b}}
---
---
apiVersion: example.com/v1
kind: AllowList
metadata: {name: not-a-list}
spec: {image: x:1}
`
	objs, err := Decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Kind+"/"+o.Namespace+"/"+o.Name)
	}
	if strings.Join(got, " ") != "Pod/one/a Deployment//b AllowList//not-a-list" {
		t.Errorf("objects = %v", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"apiVersion: v1\nkind: Pod\n---\n- a\n- b\n", "document 2: not a Kubernetes object: a YAML list"},
		{"metadata: {name: x}\n", "document 1: not a Kubernetes object: no apiVersion or kind"},
		{"apiVersion: v1\nkind: List\nitems: [3]\n", "document 1: List items[0]: not a Kubernetes object"},
		{"a: [\n", "document 1: yaml:"},
	}
	for _, tt := range tests {
		_, err := Decode([]byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Decode(%q) = %v, want %q", tt.src, err, tt.want)
		}
	}
	// The objects of the good documents come back with the error.
	objs, err := Decode([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\n---\nfoo\n"))
	if err == nil || len(objs) != 1 || objs[0].Name != "ok" {
		t.Errorf("objs = %v, err = %v", objs, err)
	}
}

func TestNames(t *testing.T) {
	objs := []Object{
		{Kind: "Deployment", Name: "web", Namespace: "a"},
		{Kind: "Deployment", Name: "web"},
		{Kind: "Service", Name: "web"},
		{Kind: "Deployment", Name: "api", Namespace: "a"},
	}
	got := strings.Join(Names(objs, "prod"), " ")
	if got != "Deployment/a/web Deployment/prod/web Service/web Deployment/api" {
		t.Errorf("names = %s", got)
	}
}

// FuzzImages decodes arbitrary YAML and walks every object: no input may
// crash either, and every field found must point at its value.
func FuzzImages(f *testing.F) {
	f.Add([]byte(workloads()))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: a.b/v1, kind: X, spec: {image: i, l: [{image: j}]}}]\n"))
	f.Add([]byte("apiVersion: batch/v1\nkind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{image: a}]}}}}}\n"))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nspec: {volumes: [{name: v, image: {reference: r}}], ephemeralContainers: [{image: e}]}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _ := Decode(data)
		_ = Names(objs, "default")
		for _, o := range objs {
			for _, field := range Images(o.Content) {
				if got, ok := lookup(o.Content, field.Path); !ok || got != field.Value {
					t.Fatalf("%s points at %v, not %q", field.Path, got, field.Value)
				}
				_ = field.Locator()
			}
		}
	})
}

// lookup follows a path through decoded YAML.
func lookup(v any, p Path) (any, bool) {
	for _, s := range p {
		if s.Key != "" {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			v = m[s.Key]
			continue
		}
		l, ok := v.([]any)
		if !ok || s.Index >= len(l) {
			return nil, false
		}
		v = l[s.Index]
	}
	return v, true
}

func TestBare(t *testing.T) {
	for value, want := range map[string]bool{
		"adservice": true, "team/api": true, "a/b/c": true,
		"adservice:latest": false, "nginx:1.27": false, "nginx@sha256:1111111111111111111111111111111111111111111111111111111111111111": false,
		"gcr.io/proj/app": false, "localhost/app": false, "registry:5000/app": false,
		"Bad Name": false, "": false, "{{ .Values.image }}": false,
	} {
		if got := Bare(value); got != want {
			t.Errorf("Bare(%q) = %v, want %v", value, got, want)
		}
	}
}

// TestDecodeDuplicateKeys: a key repeated in a mapping takes its last
// value, as helm template and kubectl (sigs.k8s.io/yaml) read it; yaml.v3
// alone refuses the document.
func TestDecodeDuplicateKeys(t *testing.T) {
	src := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
    tier: front
    app: web2
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.26
          image: nginx:1.27
base: &base {a: 1}
merged:
  <<: *base
  a: 2
  a: 3
`
	objs, err := Decode([]byte(src))
	if err != nil || len(objs) != 1 {
		t.Fatalf("Decode = %v, %v", objs, err)
	}
	labels := objs[0].Content["metadata"].(map[string]any)["labels"].(map[string]any)
	if labels["app"] != "web2" || labels["tier"] != "front" {
		t.Errorf("labels = %v", labels)
	}
	if got := found(t, src); strings.Join(got, " ") != "Deployment/web containers[web]=nginx:1.27 pod" {
		t.Errorf("images = %v", got)
	}
	if m := objs[0].Content["merged"].(map[string]any); m["a"] != 3 {
		t.Errorf("merged = %v", m)
	}
	// sigs.k8s.io/yaml, which helm template and kubectl read with, agrees.
	var ref map[string]any
	if err := sigsyaml.Unmarshal([]byte(src), &ref); err != nil {
		t.Fatal(err)
	}
	if l := ref["metadata"].(map[string]any)["labels"].(map[string]any); l["app"] != labels["app"] {
		t.Errorf("sigs.k8s.io/yaml reads app=%v", l["app"])
	}
}

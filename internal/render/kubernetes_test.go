package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/kube"
)

// TestKubernetes rewrites a helm-template-like stream: pod images by their
// upstream and their target reference, a List's items, a build from the
// target; a ConfigMap value and a roleRef untouched; an image the lock
// does not hold left alone and said so.
func TestKubernetes(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "kubernetes.in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	l := fixtureLock()
	res, err := Kubernetes(in, fixturePins(t, l, builtTarget(l)))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "kubernetes.out.yaml", res.Data)
	if res.Rewritten != 4 || res.Unlocked != 1 || len(res.LeftAlone) != 1 ||
		!strings.Contains(res.LeftAlone[0], "Exporter/metrics spec.image: quay.io/prometheus/node-exporter:v1.8.0 is not in images.lock") {
		t.Errorf("rewritten %d, unlocked %d, left alone %q", res.Rewritten, res.Unlocked, res.LeftAlone)
	}
	// The output is Kubernetes YAML whose pod images all point at the
	// target by digest: read it back as discovery reads it.
	objs, err := kube.Decode(res.Data)
	if err != nil {
		t.Fatal(err)
	}
	pinned := 0
	for _, o := range objs {
		for _, f := range kube.Images(o.Content) {
			if f.Pod && !strings.HasPrefix(f.Value, reg+"/") || f.Pod && !strings.Contains(f.Value, "@sha256:") {
				t.Errorf("%s/%s %s = %q, not the target by digest", o.Kind, o.Name, f.Path, f.Value)
			}
			if f.Pod {
				pinned++
			}
		}
	}
	if pinned != 4 {
		t.Errorf("%d pod images read back, want 4", pinned)
	}
}

// TestKubernetesNotBuilt refuses a build whose target image was built from
// other inputs, naming where it is used, and writes nothing.
func TestKubernetesNotBuilt(t *testing.T) {
	in := []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: shop-web:v1\n")
	l := fixtureLock()
	stale := builtTarget(l)
	for ref := range stale.inputs {
		stale.inputs[ref] = dg("other inputs")
	}
	res, err := Kubernetes(in, fixturePins(t, l, stale))
	var nb *notBuiltError
	if !errors.As(err, &nb) || res != nil || !strings.Contains(err.Error(), "Pod/web spec.containers[0].image") {
		t.Fatalf("a stale build: %v, %v", res, err)
	}
}

// FuzzKubernetes feeds any YAML to the rewrite: it never panics, and what
// it writes is YAML that decodes again.
func FuzzKubernetes(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "kubernetes.in.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("a: &x {image: redis}\nkind: Foo\napiVersion: x.example.com/v1\nb: *x\n"))
	l := fixtureLock()
	pins := NewPins(l, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Kubernetes(data, pins)
		if err != nil {
			return
		}
		if _, err := kube.Decode(res.Data); err != nil && strings.Contains(err.Error(), "yaml:") {
			t.Errorf("the rewrite of %q is not YAML: %v\n%s", data, err, res.Data)
		}
	})
}

//go:build linux

package helmrender

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary serve ChildCommand, as imagesync's main
// does, so that the sandbox's tests run a real child.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ChildCommand {
		os.Exit(ServeChild(os.Args[2:], os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

func testSandbox(t *testing.T) Sandbox {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Sandbox{Command: []string{exe, ChildCommand}}
}

// TestSandboxEqualsInProcess: a child renders exactly what this process
// renders, errors included.
func TestSandboxEqualsInProcess(t *testing.T) {
	app := appChart(t)
	failing := filepath.Join(t.TempDir(), "failing")
	if err := os.CopyFS(failing, os.DirFS(app)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(failing, "templates", "fail.yaml"), []byte(`{{ fail "no\nway" }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	w := NewWorker(testSandbox(t))
	defer w.Close()
	for _, r := range []Release{
		{Name: "demo", Chart: app, ValuesFiles: []string{filepath.Join(app, "values-a.yaml")},
			Set: []Value{{Key: "replicas", Value: 3}, {Key: "big", Value: int64(1) << 60}}, Namespace: "ns", KubeVersion: "1.30.0"},
		{Name: "Bad_Name", Chart: app},
		{Name: "demo", Chart: failing},
		{Name: "demo", Chart: app},
	} {
		want, wantErr := Render(context.Background(), r)
		got, err := w.Render(context.Background(), r)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Errorf("%s: child error %v, in process %v", r.Chart, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: child rendered\n%+v\nin process\n%+v", r.Chart, got, want)
		}
	}
	if w.starts != 1 {
		t.Errorf("%d children started for 4 releases, want 1", w.starts)
	}
}

// bombChart is the app chart with one more template.
func bombChart(t *testing.T, template string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bomb")
	if err := os.CopyFS(dir, os.DirFS(appChart(t))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "bomb.yaml"), []byte(template), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSandboxMemoryBound: template bombs stop at the child's memory limit
// (its peak resident memory stays below it) with an error that says so.
func TestSandboxMemoryBound(t *testing.T) {
	const limit = 256 << 20
	for name, template := range map[string]string{
		// Doubling a string until it no longer fits: memory grows step by step.
		"repeat, doubling": `{{ $s := repeat 1024 "x" }}{{ range until 40 }}{{ $s = repeat 2 $s }}{{ end }}data: {{ $s | len }}`,
		// One list of two billion numbers.
		"until": `data: {{ until 2000000000 | len }}`,
	} {
		t.Run(name, func(t *testing.T) {
			sb := testSandbox(t)
			sb.Memory = limit
			w := NewWorker(sb)
			defer w.Close()
			_, err := w.Render(context.Background(), Release{Name: "demo", Chart: bombChart(t, template)})
			if err == nil || !strings.Contains(err.Error(), "rendering used more than 256 MiB of memory, the limit of one release") {
				t.Fatalf("error %v, want the memory limit", err)
			}
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
				t.Fatal(err)
			}
			t.Logf("peak resident memory of a child so far: %d MiB", ru.Maxrss>>10)
			if peak := ru.Maxrss << 10; peak > limit+128<<20 { // the binary's own pages are resident, not data
				t.Errorf("a child reached %d MiB resident, over its limit of %d MiB", peak>>20, limit>>20)
			}
		})
	}
}

// TestSandboxTimeout: a template that loops for ever is stopped at the
// deadline.
func TestSandboxTimeout(t *testing.T) {
	sb := testSandbox(t)
	sb.Timeout = 2 * time.Second
	loop := `{{ range until 100000 }}{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}{{ end }}`
	w := NewWorker(sb)
	defer w.Close()
	_, err := w.Render(context.Background(), Release{Name: "demo", Chart: bombChart(t, loop)})
	if err == nil || !strings.Contains(err.Error(), "rendering took longer than 2s, the limit of one release") {
		t.Fatalf("error %v, want the time limit", err)
	}
}

// TestSandboxNoEnvironment: templates cannot read the environment (Helm
// removes env and expandenv), and the child has none to read.
func TestSandboxNoEnvironment(t *testing.T) {
	t.Setenv("CI_SECRET_TOKEN", "s3cr3t-env")
	chart := bombChart(t, `data: {{ env "CI_SECRET_TOKEN" }}`)
	for _, sb := range []Sandbox{{}, testSandbox(t)} {
		w := NewWorker(sb)
		r, err := w.Render(context.Background(), Release{Name: "demo", Chart: chart})
		w.Close()
		if err == nil || !strings.Contains(err.Error(), `function "env" not defined`) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("sandbox %v: %v, %v", sb.Command, r, err)
		}
	}
}

// TestWorkerAfterAKilledRelease: a release that kills the child (a bomb,
// a deadline) gets its error; the next one renders in a fresh child.
func TestWorkerAfterAKilledRelease(t *testing.T) {
	sb := testSandbox(t)
	sb.Memory, sb.Timeout = 256<<20, 2*time.Second
	w := NewWorker(sb)
	defer w.Close()
	app := appChart(t)
	for _, tt := range []struct {
		chart, want string
	}{
		{app, ""},
		{bombChart(t, `data: {{ repeat 3000000000 "x" | len }}`), "more than 256 MiB"},
		{app, ""},
		{bombChart(t, `{{ range until 100000 }}{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}{{ end }}`), "longer than 2s"},
		{app, ""},
	} {
		r, err := w.Render(context.Background(), Release{Name: "demo", Chart: tt.chart})
		switch {
		case tt.want == "" && (err != nil || !strings.Contains(r.Manifest, "example/app:1.0")):
			t.Errorf("%s: %v", tt.chart, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want %q", tt.chart, err, tt.want)
		}
	}
	if w.starts != 3 {
		t.Errorf("%d children started, want 3 (the first, and one after each killed release)", w.starts)
	}
}

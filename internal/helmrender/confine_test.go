//go:build linux

package helmrender

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/imagesync/imagesync/internal/repofs"
)

// hostileRepo makes a repository <tmp>/repo holding the app chart, with a
// file <tmp>/outside/secret next to it, and returns the repository.
func hostileRepo(t *testing.T) string {
	t.Helper()
	parent := t.TempDir()
	repo := filepath.Join(parent, "repo")
	if err := os.CopyFS(filepath.Join(repo, "chart"), os.DirFS(appChart(t))); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"outside/templates", "repo/shared"} {
		if err := os.MkdirAll(filepath.Join(parent, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{
		"outside/secret":                  "CI_SECRET_TOKEN=s3cr3t-outside\n",
		"outside/values.yaml":             "image: {tag: s3cr3t-outside}\n",
		"outside/templates/leak.yaml":     "kind: ConfigMap\nmetadata: {name: leak}\n",
		"repo/shared/values-shared.yaml":  "image: {tag: shared}\n",
		"repo/chart/templates/files.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: files}\ndata: {env: {{ .Files.Get \"env\" | quote }}}\n",
	} {
		if err := os.WriteFile(filepath.Join(parent, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return repo
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestRenderConfined: every file Helm would load, templates and the files
// templates read with .Files.Get alike, and every values file, is read
// under the repository's rule: a link out is refused, naming it and its
// target; a link that stays inside is followed, as Helm follows it.
func TestRenderConfined(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, repo string) Release
		wantErr string // "" renders
	}{{
		name: "a chart file read by .Files.Get that links to the environment",
		setup: func(t *testing.T, repo string) Release {
			symlink(t, "/proc/self/environ", filepath.Join(repo, "chart/env"))
			return Release{Name: "demo", Root: repo, Chart: filepath.Join(repo, "chart")}
		},
		wantErr: `chart/env is a symbolic link to "/proc/self/environ", outside the repository`,
	}, {
		name: "a chart file that links to a file outside",
		setup: func(t *testing.T, repo string) Release {
			symlink(t, "../../outside/secret", filepath.Join(repo, "chart/env"))
			return Release{Name: "demo", Root: repo, Chart: filepath.Join(repo, "chart")}
		},
		wantErr: `chart/env is a symbolic link to "../../outside/secret", outside the repository`,
	}, {
		name: "a templates directory that links outside",
		setup: func(t *testing.T, repo string) Release {
			symlink(t, "../../../outside/templates", filepath.Join(repo, "chart/templates/more"))
			return Release{Name: "demo", Root: repo, Chart: filepath.Join(repo, "chart")}
		},
		wantErr: `chart/templates/more is a symbolic link to "../../../outside/templates"`,
	}, {
		name: "a chart directory that links outside",
		setup: func(t *testing.T, repo string) Release {
			symlink(t, "../outside", filepath.Join(repo, "elsewhere"))
			return Release{Name: "demo", Root: repo, Chart: filepath.Join(repo, "elsewhere")}
		},
		wantErr: `elsewhere is a symbolic link to "../outside"`,
	}, {
		name: "a values file that links outside",
		setup: func(t *testing.T, repo string) Release {
			symlink(t, "../outside/values.yaml", filepath.Join(repo, "values-prod.yaml"))
			return Release{Name: "demo", Root: repo, Chart: filepath.Join(repo, "chart"),
				ValuesFiles: []string{filepath.Join(repo, "values-prod.yaml")}}
		},
		wantErr: `read values: values-prod.yaml is a symbolic link to "../outside/values.yaml"`,
	}, {
		name: "links inside the repository are followed",
		setup: func(t *testing.T, repo string) Release {
			if err := os.WriteFile(filepath.Join(repo, "shared/env"), []byte("FROM_INSIDE=1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			symlink(t, "../shared/env", filepath.Join(repo, "chart/env"))
			if err := os.WriteFile(filepath.Join(repo, "shared/cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			symlink(t, "../../shared/cm.yaml", filepath.Join(repo, "chart/templates/shared.yaml"))
			return Release{Name: "demo", Root: repo, Chart: filepath.Join(repo, "chart"),
				ValuesFiles: []string{filepath.Join(repo, "shared/values-shared.yaml")}}
		},
	}, {
		name: "a link out that .helmignore leaves out is not read, as Helm would not read it",
		setup: func(t *testing.T, repo string) Release {
			if err := os.WriteFile(filepath.Join(repo, "chart/.helmignore"), []byte("secret-link\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			symlink(t, "../../outside/secret", filepath.Join(repo, "chart/secret-link"))
			return Release{Name: "demo", Root: repo, Chart: filepath.Join(repo, "chart")}
		},
	}, {
		name: "a directory link that loops",
		setup: func(t *testing.T, repo string) Release {
			symlink(t, "..", filepath.Join(repo, "chart/templates/loop"))
			return Release{Name: "demo", Root: repo, Chart: filepath.Join(repo, "chart")}
		},
		wantErr: "a symbolic link loops back to a directory that contains it",
	}, {
		name: "a FIFO in the chart",
		setup: func(t *testing.T, repo string) Release {
			mkfifo(t, filepath.Join(repo, "chart/pipe"))
			return Release{Name: "demo", Root: repo, Chart: filepath.Join(repo, "chart")}
		},
		wantErr: "chart/pipe is a FIFO, not a regular file",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := hostileRepo(t)
			r := tt.setup(t, repo)
			got, err := Render(context.Background(), r)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(got.Manifest, "s3cr3t") || !strings.Contains(got.Manifest, "kind: ConfigMap") ||
					(strings.HasPrefix(tt.name, "links inside") && !strings.Contains(got.Manifest, "FROM_INSIDE=1")) {
					t.Errorf("manifest:\n%s", got.Manifest)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows what lies outside: %v", err)
			}
		})
	}
}

// TestRenderErrorExcerpt: a template's `fail` prints what the chart read;
// the error shows it escaped and cut, never whole.
func TestRenderErrorExcerpt(t *testing.T) {
	repo := hostileRepo(t)
	secretish := "CI_SECRET_TOKEN=inside\x00" + strings.Repeat("OTHER=value\x00", 100)
	if err := os.WriteFile(filepath.Join(repo, "chart/env"), []byte(secretish), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "chart/templates/fail.yaml"), []byte(`{{ fail (.Files.Get "env") }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Render(context.Background(), Release{Name: "demo", Root: repo, Chart: filepath.Join(repo, "chart")})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\x00\n") || len(msg) > 400 || strings.Count(msg, "OTHER=value") > 20 {
		t.Errorf("the error is not a bounded, escaped excerpt (%d bytes): %q", len(msg), msg)
	}
	if !strings.Contains(msg, `execution error at (app/templates/fail.yaml:1:3): CI_SECRET_TOKEN=inside\x00OTHER=value`) {
		t.Errorf("the error lost its place: %q", msg)
	}
}

// TestRenderRootDefault: without Root, the directory holding the chart
// is the root: a values file beside it renders, one further up is out.
func TestRenderRootDefault(t *testing.T) {
	repo := hostileRepo(t)
	chart := filepath.Join(repo, "chart")
	if _, err := Render(context.Background(), Release{Name: "demo", Chart: chart,
		ValuesFiles: []string{filepath.Join(repo, "shared/values-shared.yaml")}}); err != nil {
		t.Error(err)
	}
	_, err := Render(context.Background(), Release{Name: "demo", Chart: chart,
		ValuesFiles: []string{filepath.Join(repo, "../outside/values.yaml")}})
	if !errors.Is(err, repofs.ErrOutside) {
		t.Errorf("a values file outside the default root: %v", err)
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

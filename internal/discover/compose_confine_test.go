//go:build linux

package discover

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/imagesync/imagesync/internal/repofs"
	"github.com/imagesync/imagesync/internal/repofs/repofstest"
)

// sentinel is what the files outside the repository hold: it must appear
// in no result and no error.
const sentinel = "s3cr3t-outside"

// writeTree writes files under parent: a value "-> x" makes a symbolic
// link to x, "<fifo>" a FIFO, anything else a file with that content.
// Every test tree has outside/ next to repo/, full of the sentinel.
func writeTree(t *testing.T, parent string, files map[string]string) {
	t.Helper()
	all := map[string]string{
		"outside/compose.yaml": "services:\n  leak:\n    image: \"leak:" + sentinel + "\"\n",
		"outside/base.yaml":    "services:\n  base:\n    image: \"leak:" + sentinel + "\"\n",
		"outside/secret.env":   "TAG=" + sentinel + "\n",
		"outside/.env":         "TAG=" + sentinel + "\n",
	}
	for k, v := range files {
		all[k] = v
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range all {
			if !yield(k) {
				return
			}
		}
	}) {
		p := filepath.Join(parent, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch content := all[name]; {
		case strings.HasPrefix(content, "-> "):
			err = os.Symlink(strings.TrimPrefix(content, "-> "), p)
		case content == "<fifo>":
			err = syscall.Mkfifo(p, 0o644)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadComposeConfined: every file compose-go would open for a compose
// project (the compose files, .env and env files, include paths, an
// include's env files and .env, its project directory, extends files at
// any depth) stays inside the repository: `../`, absolute paths, links of
// every kind out of it and special files are refused with an error that
// names them, and nothing outside is opened at all (inotify watches).
func TestLoadComposeConfined(t *testing.T) {
	const cy = "repo/compose.yaml"
	web := "services:\n  web:\n    image: \"nginx:${TAG:-1}\"\n"
	tests := []struct {
		name    string
		files   map[string]string
		opts    ComposeOptions
		wantErr string
	}{
		{"the compose file is a link out", map[string]string{cy: "-> ../outside/compose.yaml"}, ComposeOptions{},
			`compose.yaml is a symbolic link to "../outside/compose.yaml", outside the repository`},
		{"the compose file is a FIFO", map[string]string{cy: "<fifo>"}, ComposeOptions{Files: []string{"compose.yaml"}},
			"compose.yaml is a FIFO, not a regular file"},
		{".env links to the environment", map[string]string{cy: web, "repo/.env": "-> /proc/self/environ"}, ComposeOptions{},
			`.env is a symbolic link to "/proc/self/environ", outside the repository`},
		{".env links to a file outside", map[string]string{cy: web, "repo/.env": "-> ../outside/secret.env"}, ComposeOptions{},
			`.env is a symbolic link to "../outside/secret.env"`},
		{".env is a FIFO", map[string]string{cy: web, "repo/.env": "<fifo>"}, ComposeOptions{},
			".env is a FIFO, not a regular file"},
		{"an env file of discover links through a directory out", map[string]string{cy: web, "repo/config": "-> ../outside"},
			ComposeOptions{EnvFiles: []string{"config/secret.env"}}, `config/secret.env: symbolic link config points to "../outside"`},
		{"include climbs out", map[string]string{cy: "include: [../outside/compose.yaml]\n" + web}, ComposeOptions{},
			`include: "../outside/compose.yaml": ` + "%PARENT%/outside/compose.yaml is outside the repository"},
		{"include names the environment", map[string]string{cy: "include: [/proc/self/environ]\n" + web}, ComposeOptions{},
			`include: "/proc/self/environ": /proc/self/environ is outside the repository`},
		{"include through chained links", map[string]string{cy: "include: [inc/compose.yaml]\n" + web,
			"repo/inc/compose.yaml": "-> hop", "repo/inc/hop": "-> ../../outside/compose.yaml"}, ComposeOptions{},
			`include: "inc/compose.yaml": inc/compose.yaml: symbolic link inc/hop points to "../../outside/compose.yaml"`},
		{"include through a directory link", map[string]string{cy: "include: [shared/compose.yaml]\n" + web, "repo/shared": "-> ../outside"},
			ComposeOptions{}, `symbolic link shared points to "../outside"`},
		{"an include's env_file links to the environment", map[string]string{
			cy: "include:\n  - path: inc/compose.yaml\n    env_file: inc/inc.env\n" + web, "repo/inc/compose.yaml": web,
			"repo/inc/inc.env": "-> /proc/self/environ"}, ComposeOptions{},
			`include: read env file: inc/inc.env is a symbolic link to "/proc/self/environ"`},
		{"an include's env_file is absolute", map[string]string{
			cy: "include:\n  - path: inc/compose.yaml\n    env_file: /proc/self/environ\n" + web, "repo/inc/compose.yaml": web}, ComposeOptions{},
			`include: read env file: /proc/self/environ is outside the repository`},
		{"an include's env_file climbs out", map[string]string{
			cy: "include:\n  - path: inc/compose.yaml\n    env_file: ../outside/secret.env\n" + web, "repo/inc/compose.yaml": web}, ComposeOptions{},
			`is outside the repository`},
		{"an included project's own .env links out", map[string]string{
			cy: "include: [inc/compose.yaml]\n" + web, "repo/inc/compose.yaml": web, "repo/inc/.env": "-> ../../outside/secret.env"}, ComposeOptions{},
			`include: inc/.env is a symbolic link to "../../outside/secret.env"`},
		{"an include's project_directory is outside", map[string]string{
			cy: "include:\n  - path: inc/compose.yaml\n    project_directory: ../outside\n" + web, "repo/inc/compose.yaml": web}, ComposeOptions{},
			`include: project_directory "../outside": ` + "%PARENT%/outside is outside the repository"},
		{"an include inside an included file climbs out", map[string]string{
			cy: "include: [inc/compose.yaml]\n" + web, "repo/inc/compose.yaml": "include: [../../outside/compose.yaml]\n"}, ComposeOptions{},
			`include inc/compose.yaml: include: "../../outside/compose.yaml"`},
		{"extends climbs out", map[string]string{cy: "services:\n  web:\n    extends: {file: ../outside/base.yaml, service: base}\n"},
			ComposeOptions{}, `services.web.extends.file: "../outside/base.yaml": ` + "%PARENT%/outside/base.yaml is outside the repository"},
		{"extends through a directory link", map[string]string{cy: "services:\n  web:\n    extends: {file: common/base.yaml, service: base}\n",
			"repo/common": "-> ../outside"}, ComposeOptions{}, `common/base.yaml: symbolic link common points to "../outside"`},
		{"the file an extended file extends is outside", map[string]string{
			cy:                      "services:\n  web:\n    extends: {file: common/base.yaml, service: base}\n",
			"repo/common/base.yaml": "services:\n  base:\n    extends: {file: ../../outside/base.yaml, service: base}\n"}, ComposeOptions{},
			`services.web.extends common/base.yaml: services.base.extends.file: "../../outside/base.yaml"`},
		{"extends names the environment", map[string]string{cy: "services:\n  web:\n    extends: {file: /proc/self/environ, service: x}\n"},
			ComposeOptions{}, `"/proc/self/environ": /proc/self/environ is outside the repository`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			writeTree(t, parent, tt.files)
			watch := repofstest.Watch(t, filepath.Join(parent, "outside"))
			opts := tt.opts
			opts.Root = filepath.Join(parent, "repo")
			p, err := LoadCompose(context.Background(), opts)
			want := strings.ReplaceAll(tt.wantErr, "%PARENT%", parent)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("LoadCompose = %s, %v; want an error containing %q", dump(p), err, want)
			}
			if strings.Contains(err.Error(), sentinel) || strings.Contains(dump(p), sentinel) {
				t.Errorf("what lies outside reached the result: %v", err)
			}
			if !errors.Is(err, repofs.ErrOutside) && !errors.Is(err, repofs.ErrNotRegular) {
				t.Errorf("%v is not an error of the repository's rule", err)
			}
			if opened := watch.Opened(); len(opened) > 0 {
				t.Errorf("opened outside the repository: %v", opened)
			}
		})
	}
}

// TestLoadComposeConfinedKeepsCompose: inside the repository, include and
// extends resolve as compose-go resolves them: `../` that stays inside,
// an include's project_directory, env_file and own .env, an extends chain
// whose second file is relative to the first, links inside followed.
func TestLoadComposeConfinedKeepsCompose(t *testing.T) {
	parent := t.TempDir()
	writeTree(t, parent, map[string]string{
		"repo/stack/compose.yaml": "include:\n  - path: ../parts/db.yaml\n  - path: ../parts/api/compose.yaml\n    project_directory: ../parts/api\n" +
			"    env_file: ../parts/api.env\n  - path: ../linked/compose.yaml\n" +
			"services:\n  web:\n    extends: {file: ../common/base.yaml, service: base}\n",
		"repo/parts/db.yaml":            "services:\n  db:\n    image: \"postgres:${DB_TAG:-16}\"\n",
		"repo/parts/.env":               "DB_TAG=from-parts-dotenv\n",
		"repo/parts/api/compose.yaml":   "services:\n  api:\n    image: \"api:${API_TAG}\"\n",
		"repo/parts/api.env":            "API_TAG=from-env-file\n",
		"repo/linked":                   "-> real",
		"repo/real/compose.yaml":        "services:\n  cache:\n    image: redis:7\n",
		"repo/common/base.yaml":         "services:\n  base:\n    extends: {file: deeper/base2.yaml, service: base2}\n",
		"repo/common/deeper/base2.yaml": "services:\n  base2:\n    image: nginx:1.27\n",
	})
	watch := repofstest.Watch(t, filepath.Join(parent, "outside"))
	p, err := LoadCompose(context.Background(), ComposeOptions{Root: filepath.Join(parent, "repo"), Files: []string{"stack/compose.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range p.Services {
		got = append(got, s.Name+"="+s.Image)
	}
	want := []string{"api=api:from-env-file", "cache=redis:7", "db=postgres:from-parts-dotenv", "web=nginx:1.27"}
	if !slices.Equal(got, want) {
		t.Errorf("services %v, want %v", got, want)
	}
	if opened := watch.Opened(); len(opened) > 0 {
		t.Errorf("opened outside the repository: %v", opened)
	}
}

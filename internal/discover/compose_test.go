package discover

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
)

// composeRoot returns the absolute directory of a compose fixture.
func composeRoot(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("testdata", "compose", dir))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// img is a service with only an image, declared in file.
func img(name, image, file string) ComposeService {
	return ComposeService{Name: name, Image: image, ImageLocator: file + "#services." + name + ".image"}
}

// withBuild adds a build section declared in file to s.
func withBuild(s ComposeService, file string, b ComposeBuild) ComposeService {
	b.Locator = file + "#services." + s.Name + ".build"
	s.Build = &b
	return s
}

// buildOnly is a service with only a build section, declared in file.
func buildOnly(name, file string, b ComposeBuild) ComposeService {
	return withBuild(ComposeService{Name: name}, file, b)
}

func TestLoadCompose(t *testing.T) {
	const dc, cy = "docker-compose.yml", "compose.yaml"
	tests := []struct {
		name    string
		dir     string
		opts    ComposeOptions // Root is the fixture directory
		osEnv   map[string]string
		want    *ComposeProject
		wantErr []string // substrings of the error
	}{{
		name: "basic: build section, short build syntax, arg from Env, unset arg dropped, profiles included",
		dir:  "basic",
		opts: ComposeOptions{Env: map[string]string{"FROM_ENV": "x"}},
		want: &ComposeProject{Name: "default", Files: []string{dc}, Services: []ComposeService{
			withBuild(img("app", "registry.example.com/app:1.0", dc), dc, ComposeBuild{
				Context: "app", Dockerfile: "app/Dockerfile.dev", Target: "runtime",
				Args:               map[string]string{"VERSION": "1.0", "FROM_ENV": "x"},
				AdditionalContexts: map[string]string{"base": "docker-image://alpine:3.20", "src": "../shared"},
				Platforms:          []string{"linux/amd64", "linux/arm64"},
			}),
			img("db", "postgres:16", dc),
			buildOnly("short", dc, ComposeBuild{Context: "app", Dockerfile: "app/Dockerfile"}),
		}},
	}, {
		name: "default files: override file picked up and named by locators",
		dir:  "override",
		want: &ComposeProject{Name: "default", Files: []string{dc, "docker-compose.override.yml"}, Services: []ComposeService{
			img("cache", "redis:7", "docker-compose.override.yml"),
			img("db", "postgres:16", "docker-compose.override.yml"),
			withBuild(img("web", "web:dev", dc), dc, ComposeBuild{Context: "web", Dockerfile: "web/Dockerfile"}),
		}},
	}, {
		name: "-f a -f b: later file wins, locators name the file that last changed the value",
		dir:  "multi",
		opts: ComposeOptions{Files: []string{cy, "compose.prod.yaml"}},
		want: &ComposeProject{Name: "default", Files: []string{cy, "compose.prod.yaml"}, Services: []ComposeService{
			img("db", "postgres:16", cy),
			withBuild(img("web", "web:dev", cy), "compose.prod.yaml", ComposeBuild{
				Context: "web", Dockerfile: "web/Dockerfile", Args: map[string]string{"MODE": "prod"}}),
		}},
	}, {
		name: "-f b -f a: merge order is the order of Files",
		dir:  "multi",
		opts: ComposeOptions{Files: []string{"compose.prod.yaml", cy}},
		want: &ComposeProject{Name: "default", Files: []string{"compose.prod.yaml", cy}, Services: []ComposeService{
			img("db", "postgres:16", "compose.prod.yaml"),
			withBuild(img("web", "web:dev", cy), cy, ComposeBuild{
				Context: "web", Dockerfile: "web/Dockerfile", Args: map[string]string{"MODE": "dev"}}),
		}},
	}, {
		name: "extends: same file and other file, paths relative to the extended file",
		dir:  "extends",
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			withBuild(img("base", "base:1", cy), cy, ComposeBuild{Context: ".", Dockerfile: "Dockerfile", Target: "base"}),
			withBuild(img("web", "base:1", cy), cy, ComposeBuild{Context: ".", Dockerfile: "Dockerfile", Target: "web"}),
			withBuild(img("worker", "worker:2", cy), cy, ComposeBuild{Context: "shared", Dockerfile: "shared/worker.Dockerfile"}),
		}},
	}, {
		name: "include: paths relative to the included file, its own .env",
		dir:  "include",
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			withBuild(img("api", "api:from-include-dotenv", cy), cy, ComposeBuild{
				Context: "services/api", Dockerfile: "services/api/Dockerfile"}),
			img("db", "postgres:16", cy),
		}},
	}, {
		name: "YAML anchors and merge keys",
		dir:  "anchors",
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			img("a", "base:anchored", cy),
			img("b", "postgres:16", cy),
			buildOnly("c", cy, ComposeBuild{Context: ".", Dockerfile: "Dockerfile", Target: "c",
				Args: map[string]string{"BASE": "alpine:3.20"}}),
		}},
	}, {
		name: ".env interpolation and ${VAR:-default} with an empty variable",
		dir:  "dotenv",
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			img("app", "app:1.2.3", cy), img("cache", "redis:7", cy),
		}},
	}, {
		name: "env files: nil means .env",
		dir:  "envfiles",
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			img("app", "app:dotenv", cy), img("tool", "tool:dotenv", cy),
		}},
	}, {
		name:  "env files: explicit file replaces .env; OS environment ignored by default",
		dir:   "envfiles",
		opts:  ComposeOptions{EnvFiles: []string{"ci.env"}},
		osEnv: map[string]string{"TAG": "os"},
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			img("app", "app:ci", cy), img("tool", "tool:ci-ci", cy),
		}},
	}, {
		name: "env files: Env wins, and env files see it",
		dir:  "envfiles",
		opts: ComposeOptions{EnvFiles: []string{"ci.env"}, Env: map[string]string{"TAG": "explicit"}},
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			img("app", "app:explicit", cy), img("tool", "tool:ci-explicit", cy),
		}},
	}, {
		name:  "UseOSEnv: OS environment wins over env files",
		dir:   "envfiles",
		opts:  ComposeOptions{EnvFiles: []string{"ci.env"}, UseOSEnv: true},
		osEnv: map[string]string{"TAG": "os"},
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			img("app", "app:os", cy), img("tool", "tool:ci-os", cy),
		}},
	}, {
		name:  "UseOSEnv: OS environment loses to Env",
		dir:   "envfiles",
		opts:  ComposeOptions{UseOSEnv: true, Env: map[string]string{"TAG": "explicit"}},
		osEnv: map[string]string{"TAG": "os"},
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			img("app", "app:explicit", cy), img("tool", "tool:dotenv", cy),
		}},
	}, {
		name:    "OS-only variable is not seen without UseOSEnv",
		dir:     "unset-image",
		osEnv:   map[string]string{"PG_VERSION": "99"},
		wantErr: []string{"PG_VERSION", `service "db"`},
	}, {
		name:  "OS-only variable is seen with UseOSEnv",
		dir:   "unset-image",
		opts:  ComposeOptions{UseOSEnv: true},
		osEnv: map[string]string{"PG_VERSION": "99"},
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			img("db", "postgres:99", cy), img("ok", "redis:7", cy),
		}},
	}, {
		name:    "empty EnvFiles disables .env",
		dir:     "envfiles",
		opts:    ComposeOptions{EnvFiles: []string{}},
		wantErr: []string{"TAG", `service "app"`},
	}, {
		name:    "missing explicit env file",
		dir:     "envfiles",
		opts:    ComposeOptions{EnvFiles: []string{"missing.env"}},
		wantErr: []string{"missing.env"},
	}, {
		name:    "${VAR:?msg} names variable, message, service path and file",
		dir:     "required",
		wantErr: []string{"load compose compose.yaml:", "DB_TAG", "DB_TAG must be set", "services.db.image"},
	}, {
		name:    "${VAR:?msg} in the second file names that file",
		dir:     "required-override",
		opts:    ComposeOptions{Files: []string{cy, "compose.ci.yaml"}},
		wantErr: []string{"load compose compose.ci.yaml:", "CI_PG_TAG", "CI must pin postgres", "services.db.image"},
	}, {
		name:    "unset variable in image",
		dir:     "unset-image",
		wantErr: []string{"load compose compose.yaml:", `service "db"`, `image "postgres:${PG_VERSION}"`, "variable PG_VERSION is not set"},
	}, {
		name:    "unset variable in build.args",
		dir:     "unset-args",
		wantErr: []string{"load compose compose.yaml:", `service "app"`, "build.args", "GO_VERSION"},
	}, {
		name:    "unset variable in build.context",
		dir:     "unset-context",
		wantErr: []string{"load compose compose.yaml:", `service "app"`, "build.context", "APP_DIR"},
	}, {
		name:    "unset variable in an included file",
		dir:     "unset-include",
		wantErr: []string{"load compose compose.yaml:", `service "lib"`, `image "lib:${LIB_TAG}"`, "LIB_TAG"},
	}, {
		name:    "unset variable in an extended file",
		dir:     "unset-extends",
		wantErr: []string{"load compose compose.yaml:", `service "web"`, "build.platforms", "PLATFORM"},
	}, {
		name: "unset variables outside image and build are fine, in included and extended files too",
		dir:  "unset-elsewhere",
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			withBuild(img("app", "app:1", cy), cy, ComposeBuild{Context: ".", Dockerfile: "Dockerfile"}),
			img("tool", "tool:3", cy), img("worker", "worker:2", cy),
		}},
	}, {
		name: "values docker compose refuses in fields that decide no image are fine",
		dir:  "lenient-literal",
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			withBuild(img("app", "app:1", cy), cy, ComposeBuild{Context: ".", Dockerfile: "Dockerfile"}),
		}},
	}, {
		name:    "a malformed non-image field is compose-go's schema error, naming file, service and field",
		dir:     "malformed",
		wantErr: []string{"load compose compose.yaml:", "services.app.volumes must be a array"},
	}, {
		name: "misspelt attributes and an image that is no string",
		dir:  "typo",
		wantErr: []string{"load compose compose.yaml:", "services.app.imgae: not a compose attribute",
			"services.web.build.dockerfil: not a compose attribute", "services.web.image must be a string"},
	}, {
		name: "a compose template is not a compose file: render it first",
		dir:  "template",
		opts: ComposeOptions{Files: []string{"docker-compose.yml.tpl"}},
		wantErr: []string{"load compose docker-compose.yml.tpl: ", "line 4 holds a {{ placeholder: the file looks like a template",
			"render it first, and list the rendered file in discover.compose"},
	}, {
		name: "COMPOSE_PROJECT_NAME names the project",
		dir:  "name",
		opts: ComposeOptions{Env: map[string]string{"COMPOSE_PROJECT_NAME": "from-env"}},
		want: &ComposeProject{Name: "from-env", Files: []string{cy}, Services: []ComposeService{img("app", "app:1", cy)}},
	}, {
		name: "unset variable overridden by the override file is fine",
		dir:  "override-unset",
		want: &ComposeProject{Name: "default", Files: []string{cy, "compose.override.yaml"}, Services: []ComposeService{
			img("db", "postgres:16", "compose.override.yaml"),
		}},
	}, {
		name:    "unset variable in the file that wins is named",
		dir:     "override-unset",
		opts:    ComposeOptions{Files: []string{"compose.override.yaml", cy}},
		wantErr: []string{"load compose compose.yaml:", `service "db"`, "PG_VERSION"},
	}, {
		name: "${VAR:+x} and ${VAR+x} with VAR unset are intended",
		dir:  "presence",
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			img("app", "app", cy), img("tool", "tool", cy),
		}},
	}, {
		name: "${VAR:+x} and ${VAR+x} with VAR set",
		dir:  "presence",
		opts: ComposeOptions{Env: map[string]string{"TAG": "1.0", "TOOL_TAG": ""}},
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			img("app", "app:1.0", cy), img("tool", "tool:set", cy),
		}},
	}, {
		name:    "unset variable after a default and inside a default",
		dir:     "nested-default",
		wantErr: []string{`service "app"`, "APP_TAG", `service "tool"`, "DEFAULT_TAG"},
	}, {
		name: "defaults around set variables",
		dir:  "nested-default",
		opts: ComposeOptions{Env: map[string]string{"APP_TAG": "1", "DEFAULT_TAG": "2"}},
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			img("app", "docker.io/app:1", cy), img("tool", "tool:2", cy),
		}},
	}, {
		name:    "remote build contexts",
		dir:     "remote",
		wantErr: []string{`service "git"`, `service "tarball"`, "remote", "https://github.com/docker/buildx.git#master"},
	}, {
		name:    "context or dockerfile outside Root",
		dir:     "outside",
		wantErr: []string{`service "up"`, `service "dockerfile"`, `service "absolute"`, "outside"},
	}, {
		name:    "compose file outside Root",
		dir:     "override",
		opts:    ComposeOptions{Files: []string{"../basic/docker-compose.yml"}},
		wantErr: []string{"outside"},
	}, {
		name:    "invalid YAML names the file and the line",
		dir:     "bad-yaml",
		wantErr: []string{"load compose compose.yaml:", "line"},
	}, {
		name:    "self-referencing merge key (fuzz finding: compose-go spins for minutes)",
		dir:     "anchor-cycle",
		wantErr: []string{"load compose compose.yaml:", "line 2", "*build"},
	}, {
		name:    "schema violation names the file and the key",
		dir:     "schema",
		wantErr: []string{"compose.yaml", "not_a_compose_key"},
	}, {
		name:    "explicit missing compose file",
		dir:     "empty",
		opts:    ComposeOptions{Files: []string{cy}},
		wantErr: []string{cy},
	}, {
		name: "no compose file: nothing to scan",
		dir:  "empty",
	}, {
		name: "compose file in a subdirectory: its directory is the project directory",
		dir:  "subdir",
		opts: ComposeOptions{Files: []string{"deploy/compose.yml"}},
		want: &ComposeProject{Name: "deploy", Files: []string{"deploy/compose.yml"}, Services: []ComposeService{
			withBuild(img("app", "app:dev", "deploy/compose.yml"), "deploy/compose.yml",
				ComposeBuild{Context: "deploy/app", Dockerfile: "deploy/app/Dockerfile"}),
		}},
	}, {
		name: "compose's type casts still work",
		dir:  "casts",
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{img("app", "app:1", cy)}},
	}, {
		name: "top-level name, interpolated and normalized",
		dir:  "name",
		want: &ComposeProject{Name: "my_project", Files: []string{cy}, Services: []ComposeService{img("app", "app:1", cy)}},
	}, {
		name: "dockerfile_inline",
		dir:  "inline",
		want: &ComposeProject{Name: "default", Files: []string{cy}, Services: []ComposeService{
			withBuild(img("app", "app:inline", cy), cy, ComposeBuild{Context: ".", Inline: "FROM alpine:3.20\nRUN echo ${HOME}\n"}),
		}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.osEnv {
				t.Setenv(k, v)
			}
			opts := tt.opts
			opts.Root = composeRoot(t, tt.dir)
			got, err := LoadCompose(context.Background(), opts)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error; got %s", dump(got))
				}
				t.Log(err)
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if got != nil && len(got.Services) > 0 && strings.Contains(dump(got), "imagesync-unset") {
					t.Errorf("project %s with error leaks the unset tracker's tokens", dump(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %s\nwant %s", dump(got), dump(tt.want))
			}
		})
	}
}

func TestLoadComposeRelativeRoot(t *testing.T) {
	if _, err := LoadCompose(context.Background(), ComposeOptions{Root: "testdata/compose/basic"}); err == nil {
		t.Fatal("relative root accepted")
	}
}

func TestLoadComposeDeterministic(t *testing.T) {
	for _, dir := range []string{"basic", "override", "extends", "anchors"} {
		opts := ComposeOptions{Root: composeRoot(t, dir), Env: map[string]string{"FROM_ENV": "x"}}
		first, err := LoadCompose(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			again, err := LoadCompose(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(first, again) {
				t.Fatalf("%s: %s\n!=\n%s", dir, dump(first), dump(again))
			}
		}
	}
	// Errors too: several failing services are reported in service order.
	var first string
	for i := range 5 {
		_, err := LoadCompose(context.Background(), ComposeOptions{Root: composeRoot(t, "outside")})
		if err == nil {
			t.Fatal("no error")
		}
		if i == 0 {
			first = err.Error()
		} else if err.Error() != first {
			t.Fatalf("%q != %q", err, first)
		}
	}
}

// TestLoadComposeQuiet checks that loading a project with unset variables,
// defaults and presence templates makes compose-go log nothing: our
// substitution runs compose's template engine without its logrus warnings.
func TestLoadComposeQuiet(t *testing.T) {
	var buf bytes.Buffer
	out := logrus.StandardLogger().Out
	logrus.SetOutput(&buf)
	defer logrus.SetOutput(out)
	for _, dir := range []string{"unset-elsewhere", "presence", "override", "dotenv", "unset-image"} {
		_, _ = LoadCompose(context.Background(), ComposeOptions{Root: composeRoot(t, dir)})
	}
	if buf.Len() > 0 {
		t.Errorf("compose-go logged:\n%s", buf.String())
	}
}

// TestCastPatternsDisjoint checks that no two caster patterns of
// lenientLoad match one path: interpolation picks the first matching caster
// in map order, so an overlap would make casts random. The image paths must
// all be there, with the tracker's caster.
func TestCastPatternsDisjoint(t *testing.T) {
	opts := loader.ToOptions(&types.ConfigDetails{}, []func(*loader.Options){lenientLoad(newUnsetTracker())})
	casts := opts.Interpolate.TypeCastMapping
	if len(casts) < len(imagePaths())+20 {
		t.Fatalf("only %d casters", len(casts))
	}
	patterns := slices.Sorted(maps.Keys(casts))
	for i, a := range patterns {
		for _, b := range patterns[i+1:] {
			if overlap(a, b) {
				t.Errorf("%s and %s match the same paths", a, b)
			}
		}
	}
	for _, p := range imagePaths() {
		if casts[p] == nil {
			t.Errorf("no caster for image path %s", p)
		}
	}
}

// overlap reports whether some path matches both patterns.
func overlap(a, b tree.Path) bool {
	pa, pb := a.Parts(), b.Parts()
	if len(pa) != len(pb) {
		return false
	}
	for i := range pa {
		if pa[i] != pb[i] && pa[i] != tree.PathMatchAll && pb[i] != tree.PathMatchAll {
			return false
		}
	}
	return true
}

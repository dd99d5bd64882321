package registry

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// authFile writes a containers auth file holding user:pass for each key.
func authFile(t *testing.T, path string, entries map[string]string) {
	t.Helper()
	auths := map[string]any{}
	for key, user := range entries {
		auths[key] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":secret"))}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	data := fmt.Sprintf(`{"auths": %s}`, mustJSON(t, auths))
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAuthFiles checks the order the containers auth files are read in,
// as containers-auth.json(5) documents it.
func TestAuthFiles(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"REGISTRY_AUTH_FILE replaces the runtime file", map[string]string{"REGISTRY_AUTH_FILE": "/a/auth.json", "XDG_RUNTIME_DIR": "/run/user/0", "HOME": "/root"},
			[]string{"/a/auth.json", "/root/.config/containers/auth.json"}},
		{"podman login's file, then the config home's", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/u"},
			[]string{"/run/user/1000/containers/auth.json", "/home/u/.config/containers/auth.json"}},
		{"XDG_CONFIG_HOME", map[string]string{"XDG_CONFIG_HOME": "/cfg", "HOME": "/home/u"}, []string{"/cfg/containers/auth.json"}},
		{"nothing set", nil, nil},
	} {
		if got := AuthFiles(func(k string) string { return tt.env[k] }); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestContainersKeychain checks which credentials a podman-logged-in
// runner gets: the first file holding some for the registry wins, a
// namespace's entry wins over its host's, Docker Hub goes by docker.io,
// docker's config is read after the containers files (DefaultKeychain),
// and a broken file is an error naming it.
func TestContainersKeychain(t *testing.T) {
	dir := t.TempDir()
	runtime, configHome, docker := filepath.Join(dir, "run"), filepath.Join(dir, "config"), filepath.Join(dir, "docker")
	authFile(t, filepath.Join(runtime, "containers", "auth.json"), map[string]string{
		"reg.example.com": "runtime-user", "quay.io/team": "team-user", "docker.io": "hub-user"})
	authFile(t, filepath.Join(configHome, "containers", "auth.json"), map[string]string{
		"reg.example.com": "config-user", "ghcr.io": "ghcr-user"})
	authFile(t, filepath.Join(docker, "config.json"), map[string]string{"ghcr.io": "docker-ghcr-user", "gitlab.example.com": "docker-user"})
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	t.Setenv("XDG_CONFIG_HOME", configHome)
	t.Setenv("DOCKER_CONFIG", docker)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("HOME", dir)

	user := func(kc authn.Keychain, repo string) string {
		t.Helper()
		r, err := name.NewRepository(repo)
		if err != nil {
			t.Fatal(err)
		}
		auth, err := authn.Resolve(t.Context(), kc, r)
		if err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
		if auth == authn.Anonymous {
			return "anonymous"
		}
		cfg, err := auth.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Username
	}
	for _, tt := range []struct{ repo, want string }{
		{"reg.example.com/aim/redis", "runtime-user"},   // the runtime file before the config home's
		{"ghcr.io/org/app", "ghcr-user"},                // the config home's file before docker's
		{"gitlab.example.com/group/app", "docker-user"}, // docker's config last
		{"quay.io/team/app", "team-user"},               // a namespace's entry
		{"quay.io/other/app", "anonymous"},              // not its sibling's
		{"docker.io/library/redis", "hub-user"},         // Docker Hub as podman login writes it
		{"index.docker.io/library/redis", "hub-user"},   // and as go-containerregistry names it
		{"unknown.example.com/x", "anonymous"},          // nowhere
	} {
		if got := user(DefaultKeychain(), tt.repo); got != tt.want {
			t.Errorf("%s: credentials of %s, want %s", tt.repo, got, tt.want)
		}
	}

	// REGISTRY_AUTH_FILE stands in for the runtime file.
	override := filepath.Join(dir, "override.json")
	authFile(t, override, map[string]string{"reg.example.com": "override-user"})
	t.Setenv("REGISTRY_AUTH_FILE", override)
	if got := user(DefaultKeychain(), "reg.example.com/aim/redis"); got != "override-user" {
		t.Errorf("with REGISTRY_AUTH_FILE: %s", got)
	}
	if got := user(DefaultKeychain(), "quay.io/team/app"); got != "anonymous" {
		t.Errorf("with REGISTRY_AUTH_FILE the runtime file is still read: %s", got)
	}

	// A broken file is an error naming it.
	if err := os.WriteFile(override, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, _ := name.NewRepository("reg.example.com/aim/redis")
	if _, err := authn.Resolve(t.Context(), DefaultKeychain(), r); err == nil || !strings.Contains(err.Error(), override) {
		t.Errorf("a broken auth file: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

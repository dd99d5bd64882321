package registry

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultKeychain is where imagesync finds registry credentials, in the
// order containers/image (podman, buildah, skopeo) documents in
// containers-auth.json(5), so that a runner logged in with `podman login`
// works as one logged in with `docker login`: the first file that holds
// credentials for the registry wins.
//
//  1. $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json
//     (podman login's file);
//  2. ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json;
//  3. docker's config.json ($DOCKER_CONFIG, else ~/.docker) and its
//     credential helpers, as docker reads them (authn.DefaultKeychain).
func DefaultKeychain() authn.Keychain {
	return authn.NewMultiKeychain(ContainersKeychain(os.Getenv), authn.DefaultKeychain)
}

// ContainersKeychain reads the auth files of containers/image (steps 1 and
// 2 of DefaultKeychain), with the environment read through getenv at each
// lookup. Their format is docker's config.json: "auths" (keyed by host or,
// as containers/image allows, by host/namespace, the longest match
// winning), "credHelpers" and "credsStore".
func ContainersKeychain(getenv func(string) string) authn.Keychain {
	return containersKeychain{getenv: getenv}
}

type containersKeychain struct{ getenv func(string) string }

// AuthFiles lists the containers auth files in the order they are read;
// files that do not exist are listed too.
func AuthFiles(getenv func(string) string) []string {
	var files []string
	if f := getenv("REGISTRY_AUTH_FILE"); f != "" {
		files = append(files, f)
	} else if dir := getenv("XDG_RUNTIME_DIR"); dir != "" {
		files = append(files, filepath.Join(dir, "containers", "auth.json"))
	}
	configDir := getenv("XDG_CONFIG_HOME")
	if configDir == "" {
		if home := getenv("HOME"); home != "" {
			configDir = filepath.Join(home, ".config")
		}
	}
	if configDir != "" {
		files = append(files, filepath.Join(configDir, "containers", "auth.json"))
	}
	return files
}

func (k containersKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), target)
}

// ResolveContext returns the credentials of the first auth file that has
// some for target, else authn.Anonymous. A file that cannot be parsed is
// an error naming it: credentials silently skipped would surface as a 401
// far from their cause.
func (k containersKeychain) ResolveContext(_ context.Context, target authn.Resource) (authn.Authenticator, error) {
	for _, file := range AuthFiles(k.getenv) {
		data, err := os.ReadFile(file)
		if err != nil {
			continue // absent or unreadable: the next place is tried, as containers/image does
		}
		cf, err := config.LoadFromReader(bytes.NewReader(data))
		if err != nil {
			return nil, &os.PathError{Op: "parse", Path: file, Err: err}
		}
		for _, key := range authKeys(target) {
			ac, err := lookupAuth(cf, key)
			if err != nil {
				return nil, &os.PathError{Op: "read credentials from", Path: file, Err: err}
			}
			cfg := authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
				IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}
			if cfg != (authn.AuthConfig{}) {
				return authn.FromConfig(cfg), nil
			}
		}
	}
	return authn.Anonymous, nil
}

// lookupAuth returns the credentials an auth file holds under key: its
// "auths" entry (a host's also written with a scheme or docker's /v1/
// suffix, never a namespace's for its host), else, for a host, what its
// credential helper or store answers.
func lookupAuth(cf *configfile.ConfigFile, key string) (types.AuthConfig, error) {
	if ac, ok := cf.AuthConfigs[key]; ok {
		return ac, nil
	}
	if strings.Contains(key, "/") {
		return types.AuthConfig{}, nil
	}
	for k, ac := range cf.AuthConfigs {
		host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://"), "/")
		host = strings.TrimSuffix(host, "/v1")
		if host == key || (key == "docker.io" && host == name.DefaultRegistry) {
			return ac, nil
		}
	}
	if cf.CredentialHelpers[key] != "" || cf.CredentialsStore != "" {
		return cf.GetAuthConfig(key)
	}
	return types.AuthConfig{}, nil
}

// authKeys are the keys of an auth file that may hold target's
// credentials, most specific first: host/namespace/repo, ..., host.
// Docker Hub goes by docker.io, as podman login writes it, and by
// docker's own key.
func authKeys(target authn.Resource) []string {
	host := target.RegistryStr()
	if host == name.DefaultRegistry || host == "docker.io" {
		host = "docker.io"
	}
	var keys []string
	if repo, ok := target.(name.Repository); ok {
		path := repo.RepositoryStr()
		for path != "" {
			keys = append(keys, host+"/"+path)
			i := strings.LastIndex(path, "/")
			if i < 0 {
				break
			}
			path = path[:i]
		}
	}
	return append(keys, host)
}

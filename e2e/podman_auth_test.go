package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuthFromPodmanAuthFile runs lock and apply against registries that
// require a login, with the credentials where podman keeps them and an
// empty docker config: the source's where `podman login` writes them
// (${XDG_RUNTIME_DIR}/containers/auth.json), the target's in
// ${XDG_CONFIG_HOME}/containers/auth.json, read next. REGISTRY_AUTH_FILE
// then replaces the runtime file.
func TestAuthFromPodmanAuthFile(t *testing.T) {
	imgs := rigImages()
	src := authedServer(t, seedStorage(t, imgs), authUser+":"+authHash)
	dst := authedServer(t, "", helperUser+":"+helperHash)
	r := newRig(t, src.Host(), dst.Host(), imgs, "")
	runtime, configHome := t.TempDir(), t.TempDir()
	write := func(path string, auths map[string]any) {
		data, err := json.Marshal(map[string]any{"auths": auths})
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, string(data))
	}
	write(filepath.Join(runtime, "containers", "auth.json"), basicAuths(authUser, authPassword, src.Host()))
	write(filepath.Join(configHome, "containers", "auth.json"), basicAuths(helperUser, helperPass, dst.Host()))
	r.env = []string{"XDG_RUNTIME_DIR=" + runtime, "XDG_CONFIG_HOME=" + configHome, "REGISTRY_AUTH_FILE="}

	r.must(0, "lock")
	res := r.must(0, "apply", "--auto-approve")
	if !strings.Contains(res.stdout, "Apply complete! Images: 3 created") {
		t.Fatalf("apply:\n%v", res)
	}
	r.checkMirrored()

	// REGISTRY_AUTH_FILE stands in for the runtime file: with one that
	// has no credentials for the source, lock --upgrade is refused by it.
	empty := filepath.Join(t.TempDir(), "auth.json")
	write(empty, map[string]any{})
	r.env = []string{"XDG_RUNTIME_DIR=" + runtime, "XDG_CONFIG_HOME=" + configHome, "REGISTRY_AUTH_FILE=" + empty}
	res = r.run("lock", "--upgrade")
	if res.code != 1 || !strings.Contains(res.stderr, "authentication to "+src.Host()+" failed") {
		t.Errorf("lock --upgrade with REGISTRY_AUTH_FILE lacking the source's credentials:\n%v", res)
	}
}

package e2e

// No password, token or Authorization header ever appears in output,
// logs, JSON, saved plans or error messages: every command runs with
// --debug against registries that require a login, through faults that
// make the copy engine retry and restart uploads (whose URLs carry the
// registry's upload state token), with right and wrong credentials, and
// everything printed or written is searched for the secrets.

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/faultproxy"
)

func TestSecretsNeverShown(t *testing.T) {
	imgs := rigImages()
	src := authedServer(t, seedStorage(t, imgs), authUser+":"+authHash)
	dst := authedServer(t, "", helperUser+":"+helperHash)
	proxy, err := faultproxy.Start(dst.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	r := newRig(t, src.Host(), proxy.Host(), imgs, "")
	good := dockerConfig(t, map[string]any{"auths": mergeSections(
		basicAuths(authUser, authPassword, src.Host()),
		basicAuths(helperUser, helperPass, proxy.Host()),
	)})
	wrong := dockerConfig(t, map[string]any{"auths": mergeSections(
		basicAuths(authUser, authPassword+"-wrong", src.Host()),
		basicAuths(helperUser, helperPass+"-wrong", proxy.Host()),
	)})
	helperDir, _ := buildCredHelper(t, map[string][2]string{
		src.Host():   {authUser, authPassword},
		proxy.Host(): {helperUser, helperPass},
	})
	helper := []string{
		"DOCKER_CONFIG=" + dockerConfig(t, map[string]any{"credsStore": "imagesync-test"}),
		"PATH=" + helperDir + string(os.PathListSeparator) + os.Getenv("PATH"),
	}

	var output strings.Builder
	runs := 0
	step := func(env []string, code int, args ...string) result {
		t.Helper()
		r.env = env
		res := r.run(append([]string{"--debug"}, args...)...)
		runs++
		output.WriteString("$ imagesync --debug " + strings.Join(args, " ") + "\n" + res.stdout + res.stderr)
		if code >= 0 && res.code != code {
			t.Fatalf("imagesync --debug %s exited %d, want %d\n%v", strings.Join(args, " "), res.code, code, res)
		}
		return res
	}
	cfg := []string{"DOCKER_CONFIG=" + good}

	// Wrong credentials first: every command that talks to a registry fails.
	step([]string{"DOCKER_CONFIG=" + wrong}, 1, "lock")
	step(cfg, 0, "lock")
	step([]string{"DOCKER_CONFIG=" + wrong}, 1, "plan")
	step([]string{"DOCKER_CONFIG=" + wrong}, 1, "apply", "--auto-approve")
	step([]string{"DOCKER_CONFIG=" + wrong}, 1, "verify", "--deep")
	step(nil, 1, "verify") // no credentials at all

	// Retries, an upload cut off in the middle and restarted: the debug
	// log and any error show upload URLs, never their _state token.
	proxy.Add(&faultproxy.Rule{Path: faultproxy.Uploads, Method: http.MethodPut, Times: 2, Fault: faultproxy.ResetUpload, AfterBytes: 64 << 10})
	proxy.Add(&faultproxy.Rule{Path: faultproxy.Manifests, Method: http.MethodHead, Times: 2, Fault: faultproxy.Status, Code: http.StatusServiceUnavailable})
	proxy.Add(&faultproxy.Rule{Path: faultproxy.Uploads, Method: http.MethodPost, Times: 1, Fault: faultproxy.Status, Code: http.StatusTooManyRequests, RetryAfter: "1"})
	step(cfg, 0, "lock", "--check")
	step(cfg, 0, "images")
	step(cfg, 0, "images", "--json")
	step(cfg, 0, "images", "--discovered")
	step(cfg, 0, "plan", "-v")
	step(cfg, 0, "plan", "--json")
	step(cfg, 0, "plan", "--out", "plan.json")
	step(cfg, -1, "apply", "plan.json")
	step(helper, -1, "apply", "--auto-approve", "--parallelism", "1")
	step(helper, 0, "apply", "--auto-approve")
	step(helper, 0, "lock", "--upgrade")
	step(cfg, 0, "verify")
	step(cfg, 0, "verify", "--deep", "--json")
	step(cfg, 0, "plan", "--detailed-exitcode")
	if proxy.Stats().Injections == 0 {
		t.Fatal("no fault was injected: the retry and restart paths did not run")
	}

	// Everything written: output, the saved plan, the lock.
	all := output.String() + readFile(t, filepath.Join(r.dir, "plan.json")) + readFile(t, filepath.Join(r.dir, "images.lock"))
	b64 := func(user, pass string) string { return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)) }
	for what, secret := range map[string]string{
		"source password":           authPassword,
		"target password":           helperPass,
		"source basic token":        b64(authUser, authPassword),
		"target basic token":        b64(helperUser, helperPass),
		"wrong source password":     authPassword + "-wrong",
		"wrong target basic token":  b64(helperUser, helperPass+"-wrong"),
		"an Authorization header":   "Authorization",
		"a Basic credential":        "Basic ",
		"a Bearer token":            "Bearer ",
		"an upload state token":     "_state",
		"a query string of an URL":  "?_",
		"the password hash":         authHash,
		"the helper's password raw": `"Secret"`,
	} {
		if i := strings.Index(strings.ToLower(all), strings.ToLower(secret)); i >= 0 {
			t.Errorf("%s appears in what imagesync printed or wrote:\n...%s...", what, all[max(0, i-300):min(len(all), i+200)])
		}
	}

	// The test means something only if the debug log shows the requests,
	// uploads included, and the errors of the faults.
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`msg=request method=PUT url=http://` + regexp.QuoteMeta(proxy.Host()) + `/v2/mirror/library/[a-z]+/blobs/uploads/[0-9a-f-]+ status=201`),
		regexp.MustCompile(`msg=retrying method=HEAD`),
		regexp.MustCompile(`authentication to ` + regexp.QuoteMeta(src.Host()) + ` failed`),
		regexp.MustCompile(`authentication to ` + regexp.QuoteMeta(proxy.Host()) + ` failed`),
	} {
		if !want.MatchString(all) {
			t.Errorf("the output of the %d runs lacks %s", runs, want)
		}
	}
	t.Logf("searched %d bytes of output from %d runs; %d faults injected", len(all), runs, proxy.Stats().Injections)
}

package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
)

// noWait is a retry policy that does not sleep, for tests.
var noWait = RetryPolicy{Sleep: func(context.Context, time.Duration) error { return nil }}

// staticKeychain hands out one authenticator for every registry.
type staticKeychain struct{ auth authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.auth, nil }

// fakeRegistry serves handle for everything but the ping, which it answers
// 200, or 401 with a Basic challenge when basicAuth.
func fakeRegistry(t *testing.T, basicAuth bool, handle func(n int64, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			if basicAuth {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
			}
			return
		}
		handle(n.Add(1), w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func hostOf(srv *httptest.Server) string {
	u, _ := url.Parse(srv.URL)
	return u.Host
}

// testClient is a client for a config whose extra HCL is hcl, files in dir.
func testClient(t *testing.T, dir, hcl string, opts ...Option) *Client {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg, diags := config.Parse(hclparse.NewParser(), "images.hcl", dir, []byte(`target { registry = "127.0.0.1:1/x" }`+"\n"+hcl))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	opts = append([]Option{WithKeychain(authn.NewMultiKeychain()), WithRetryPolicy(noWait)}, opts...)
	return New(cfg, opts...)
}

// repoOn opens repository "a/b" on srv for pulling.
func repoOn(t *testing.T, c *Client, srv *httptest.Server) *Repo {
	t.Helper()
	ep, err := c.TargetRepository(imageref.MustParse(hostOf(srv) + "/a/b:1"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Repo(context.Background(), ep, PullOnly)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestManifestSizeLimit(t *testing.T) {
	big := bytes.Repeat([]byte("x"), MaxManifestSize+1)
	d := digest.FromBytes(big)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%t", chunked), func(t *testing.T) {
			srv, _ := fakeRegistry(t, false, func(_ int64, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				if chunked {
					w.Header().Set("Transfer-Encoding", "chunked")
					w.(http.Flusher).Flush()
				}
				_, _ = w.Write(big)
			})
			c := testClient(t, "", "")
			_, _, err := repoOn(t, c, srv).GetManifest(context.Background(), d)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("larger than the %d bytes allowed", MaxManifestSize)) {
				t.Fatalf("GetManifest of a %d-byte manifest: %v", len(big), err)
			}
		})
	}
}

func TestRedirectLoop(t *testing.T) {
	srv, n := fakeRegistry(t, false, func(_ int64, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.RequestURI(), http.StatusTemporaryRedirect)
	})
	c := testClient(t, "", "")
	_, _, err := repoOn(t, c, srv).GetManifest(context.Background(), digest.FromString("x"))
	if !errors.Is(err, ErrRedirectLoop) || !strings.Contains(err.Error(), "redirected more than 10 times") {
		t.Fatalf("err = %v, want a redirect loop error", err)
	}
	if got := n.Load(); got != MaxRedirects {
		t.Errorf("%d requests, want %d: the first and %d redirects", got, MaxRedirects, MaxRedirects-1)
	}
}

func TestIndexEntriesLimitInPlatforms(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`)
	for i := range MaxIndexEntries + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"%s","platform":{"os":"linux","architecture":"amd64"}}`, digest.FromString(fmt.Sprint(i)))
	}
	b.WriteString("]}")
	index := []byte(b.String())
	srv, _ := fakeRegistry(t, false, func(_ int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
		w.Header().Set("Docker-Content-Digest", digest.FromBytes(index).String())
		_, _ = w.Write(index)
	})
	c := testClient(t, "", "")
	ref := imageref.MustParse(hostOf(srv) + "/a/b:1")
	head, err := c.HeadTarget(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Platforms(context.Background(), head)
	if err == nil || !strings.Contains(err.Error(), "has 1001 entries, more than the 1000 allowed") {
		t.Fatalf("Platforms of a 1001-entry index: %v", err)
	}
}

func TestAuthErrorsAreNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name     string
		keychain authn.Keychain
		status   int
		want     []string
	}{
		{"no credentials", authn.NewMultiKeychain(), http.StatusUnauthorized,
			[]string{"authentication to HOST failed: it requires a login and no credentials for HOST were found (401 Unauthorized", "add credentials for HOST to DOCKER_CONFIG"}},
		{"wrong credentials", staticKeychain{&authn.Basic{Username: "u", Password: "wrong-secret"}}, http.StatusUnauthorized,
			[]string{"authentication to HOST failed: it refused the credentials (401 Unauthorized", "check the credentials for HOST in DOCKER_CONFIG"}},
		{"forbidden", staticKeychain{&authn.Basic{Username: "u", Password: "wrong-secret"}}, http.StatusForbidden,
			[]string{"access to HOST denied (403 Forbidden: DENIED: no pull for you)", "lack the permission"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DOCKER_CONFIG", t.TempDir())
			srv, n := fakeRegistry(t, true, func(_ int64, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(tc.status)
				code := "UNAUTHORIZED"
				if tc.status == http.StatusForbidden {
					code = "DENIED"
				}
				fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"no pull for you"}]}`, code)
			})
			c := testClient(t, "", "", WithKeychain(tc.keychain), WithRetryPolicy(RetryPolicy{}))
			_, _, err := repoOn(t, c, srv).GetManifest(context.Background(), digest.FromString("x"))
			var aerr *AuthError
			if !errors.As(err, &aerr) || aerr.Host != hostOf(srv) {
				t.Fatalf("err = %v, want an *AuthError for %s", err, hostOf(srv))
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "HOST", hostOf(srv)); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "wrong-secret") || strings.Contains(err.Error(), "attempt") {
				t.Errorf("error shows the password or a retry: %v", err)
			}
			if n.Load() != 1 {
				t.Errorf("%d requests: an auth failure must not be retried", n.Load())
			}
		})
	}
}

func TestTLSErrorNamesSettings(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Docker-Content-Digest", digest.FromString("m").String())
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes refused on purpose
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := hostOf(srv)
	ref := imageref.MustParse(host + "/a/b:1")

	// Not trusted: the error names ca_file, insecure and the block.
	_, err := testClient(t, "", "").HeadTarget(context.Background(), ref)
	var terr *TLSError
	if !errors.As(err, &terr) {
		t.Fatalf("err = %v, want a *TLSError", err)
	}
	for _, want := range []string{"TLS certificate of " + host + " is not trusted", "x509:", `ca_file = `, "insecure = true", `registry "` + host + `" block of images.hcl`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}

	// ca_file: trusted.
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	c := testClient(t, dir, `registry "`+host+`" { ca_file = "ca.pem" }`)
	if _, err := c.HeadTarget(context.Background(), ref); err != nil {
		t.Fatalf("with ca_file: %v", err)
	}

	// insecure = true: accepted unverified.
	c = testClient(t, "", `registry "`+host+`" { insecure = true }`)
	if _, err := c.HeadTarget(context.Background(), ref); err != nil {
		t.Fatalf("with insecure = true: %v", err)
	}
}

func TestStatusErrorNamesStatusAndAttempts(t *testing.T) {
	srv, n := fakeRegistry(t, false, func(_ int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"errors":[{"code":"UNAVAILABLE","message":"maintenance"}]}`)
	})
	_, _, err := repoOn(t, testClient(t, "", ""), srv).GetManifest(context.Background(), digest.FromString("x"))
	var serr *StatusError
	if !errors.As(err, &serr) || !strings.Contains(err.Error(), "UNAVAILABLE: maintenance (503 Service Unavailable after 6 attempts)") {
		t.Fatalf("err = %v", err)
	}
	if n.Load() != 6 {
		t.Errorf("%d requests, want 6 (the default tries)", n.Load())
	}
}

func TestVerifyingReaderHoldsBackLastByte(t *testing.T) {
	content := bytes.Repeat([]byte("layer data "), 1000)
	d := digest.FromBytes(content)
	newReader := func(b []byte, one bool) io.Reader {
		var r io.Reader = bytes.NewReader(b)
		if one {
			r = iotest.OneByteReader(r)
		}
		return &verifyingReader{rc: io.NopCloser(r), digester: d.Algorithm().Digester(), d: d, src: "test"}
	}
	for _, one := range []bool{false, true} {
		if err := iotest.TestReader(newReader(content, one), content); err != nil {
			t.Errorf("right content, one byte at a time %t: %v", one, err)
		}
		bad := append([]byte(nil), content...)
		bad[len(bad)/2] ^= 0xff
		got, err := io.ReadAll(newReader(bad, one))
		if err == nil || !strings.Contains(err.Error(), "does not match its digest") {
			t.Errorf("corrupted content: err = %v", err)
		}
		if len(got) >= len(bad) {
			t.Errorf("corrupted content: %d of %d bytes passed on; the last must be held back", len(got), len(bad))
		}
	}
}

func TestRedactURLError(t *testing.T) {
	err := &url.Error{Op: "Put", URL: "http://u:p@reg.example/v2/a/blobs/uploads/1?_state=SECRET&digest=sha256%3Aab", Err: io.ErrUnexpectedEOF}
	got := redactURLError(err).Error()
	if strings.Contains(got, "SECRET") || strings.Contains(got, "u:p") || !strings.Contains(got, "http://reg.example/v2/a/blobs/uploads/1") {
		t.Errorf("redacted: %s", got)
	}
	if !errors.Is(redactURLError(err), io.ErrUnexpectedEOF) {
		t.Error("redaction lost the cause")
	}
}

// TestUploadErrorShowsNoStateToken: a blob upload cut off by the registry,
// or refused with an error code (a session broken by an earlier cut),
// fails with an error naming the upload, without its query.
func TestUploadErrorShowsNoStateToken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter)
	}{
		{"cut off", func(w http.ResponseWriter) {
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}},
		{"refused", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"blob upload invalid"}]}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := fakeRegistry(t, false, func(_ int64, w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				tc.answer(w)
			})
			r := repoOn(t, testClient(t, "", ""), srv)
			body := bytes.Repeat([]byte("z"), 1<<20)
			err := r.Upload(context.Background(), srv.URL+"/v2/a/b/blobs/uploads/1?_state=SECRET-STATE", digest.FromBytes(body), int64(len(body)), bytes.NewReader(body))
			if err == nil || strings.Contains(err.Error(), "SECRET-STATE") || strings.Contains(err.Error(), "?") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestStallGuard(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var stalled atomic.Int64
	srv, n := fakeRegistry(t, false, func(n int64, w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "/headers/") && n == 1:
			stalled.Add(1)
			select { // no headers until the client gives up
			case <-r.Context().Done():
			case <-release:
			}
			return
		case strings.Contains(r.URL.Path, "/body/"):
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	c := testClient(t, "", "", WithStallTimeout(200*time.Millisecond))
	r := repoOn(t, c, srv)

	// Before the headers: a timeout, retried.
	resp, err := r.do(context.Background(), http.MethodGet, srv.URL+"/v2/a/b/headers/x", nil, nil, http.StatusOK)
	if err != nil {
		t.Fatalf("a stall before the headers was not retried: %v", err)
	}
	resp.Body.Close()
	if stalled.Load() != 1 || n.Load() != 2 {
		t.Errorf("stalled %d, requests %d; want 1 stall and 1 retry", stalled.Load(), n.Load())
	}

	// In the body: the read fails with a StallError.
	start := time.Now()
	resp, err = r.do(context.Background(), http.MethodGet, srv.URL+"/v2/a/b/body/x", nil, nil, http.StatusOK)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	var se *StallError
	if !errors.As(err, &se) || !se.Timeout() {
		t.Fatalf("reading a stalled body: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the stall was noticed after %v", d)
	}
}

func TestStallGuardUpload(t *testing.T) {
	// A registry that takes the headers of an upload and then reads
	// nothing: the client's writes block once the socket buffers fill.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf) // the request line and headers
				time.Sleep(5 * time.Second)
			}()
		}
	}()
	g := &stallGuard{next: &http.Transport{}, idle: 200 * time.Millisecond}
	body := bytes.Repeat([]byte("u"), 64<<20)
	req, _ := http.NewRequest(http.MethodPut, "http://"+ln.Addr().String()+"/v2/a/b/blobs/uploads/1", bytes.NewReader(body))
	start := time.Now()
	_, err = g.RoundTrip(req)
	var se *StallError
	if !errors.As(err, &se) {
		t.Fatalf("upload to a registry that stopped reading: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("noticed after %v", d)
	}
}

// TestDebugLogShowsNoSecrets: the request log names method, URL without
// query, status; never a header.
func TestDebugLogShowsNoSecrets(t *testing.T) {
	srv, _ := fakeRegistry(t, true, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := testClient(t, "", "", WithLogger(logger), WithKeychain(staticKeychain{&authn.Basic{Username: "user", Password: "pa55-SECRET"}}))
	r := repoOn(t, c, srv)
	body := []byte("blob")
	if err := r.Upload(context.Background(), srv.URL+"/v2/a/b/blobs/uploads/1?_state=STATE-SECRET", digest.FromBytes(body), 4, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	out := log.String()
	if !strings.Contains(out, "msg=request method=PUT url="+srv.URL+"/v2/a/b/blobs/uploads/1 status=201") {
		t.Errorf("the debug log lacks the upload:\n%s", out)
	}
	secret := base64.StdEncoding.EncodeToString([]byte("user:pa55-SECRET"))
	for _, s := range []string{"SECRET", secret, "Authorization", "Basic"} {
		if strings.Contains(out, s) {
			t.Errorf("the debug log shows %q:\n%s", s, out)
		}
	}
}

// TestBearerTokenNeverShown: with token auth (Harbor, ACR, Docker Hub),
// neither the password nor the bearer token appears in the debug log or
// in errors, through retries and refusals; a token endpoint refusing the
// credentials is one AuthError naming the registry.
func TestBearerTokenNeverShown(t *testing.T) {
	const token = "TOKEN-SECRET-0123456789"
	var manifestRequests atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		challenge := fmt.Sprintf(`Bearer realm="%s/token",service="test"`, srv.URL)
		switch {
		case r.URL.Path == "/token":
			if user, pass, ok := r.BasicAuth(); !ok || user != "robot" || pass != "pa55-SECRET" {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`)
				return
			}
			_, _ = fmt.Fprintf(w, `{"token":%q,"access_token":%q}`, token, token)
		case r.Header.Get("Authorization") != "Bearer "+token:
			w.Header().Set("WWW-Authenticate", challenge)
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/v2/":
		default:
			if manifestRequests.Add(1) <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Docker-Content-Digest", digest.FromString("m").String())
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		}
	}))
	t.Cleanup(srv.Close)
	ref := imageref.MustParse(hostOf(srv) + "/a/b:1")

	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	good := testClient(t, "", "", WithLogger(logger), WithKeychain(staticKeychain{&authn.Basic{Username: "robot", Password: "pa55-SECRET"}}))
	if _, err := good.HeadTarget(context.Background(), ref); err != nil {
		t.Fatalf("with the right credentials: %v", err)
	}
	bad := testClient(t, "", "", WithLogger(logger), WithKeychain(staticKeychain{&authn.Basic{Username: "robot", Password: "wrong-SECRET"}}))
	_, err := bad.HeadTarget(context.Background(), ref)
	var aerr *AuthError
	if !errors.As(err, &aerr) || aerr.Host != hostOf(srv) || !strings.Contains(err.Error(), "it refused the credentials") {
		t.Fatalf("with wrong credentials: %v", err)
	}
	all := log.String() + err.Error()
	if !strings.Contains(all, "msg=retrying") {
		t.Errorf("no retry was logged:\n%s", all)
	}
	for _, s := range []string{token, "SECRET", "Bearer ", "Authorization", base64.StdEncoding.EncodeToString([]byte("robot:pa55-SECRET"))} {
		if strings.Contains(all, s) {
			t.Errorf("%q appears in the log or error:\n%s", s, all)
		}
	}
}

// TestManifestBlobUnknownRetried: a manifest PUT refused with
// MANIFEST_BLOB_UNKNOWN (what distribution answers while another push of
// the same blob rewrites the repository's link file) is tried again; other
// 400s are answers, and a blob that stays unknown is reported as such.
func TestManifestBlobUnknownRetried(t *testing.T) {
	for _, tc := range []struct {
		name     string
		refusals int64
		code     string
		wantReqs int64
		wantErr  string
	}{
		{"transient", 2, "MANIFEST_BLOB_UNKNOWN", 3, ""},
		{"missing blob", 100, "MANIFEST_BLOB_UNKNOWN", 6, "MANIFEST_BLOB_UNKNOWN: blob unknown to registry"},
		{"invalid manifest", 100, "MANIFEST_INVALID", 1, "MANIFEST_INVALID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := fakeRegistry(t, false, func(n int64, w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if string(body) != `{"m":1}` {
					t.Errorf("try %d sent body %q", n, body)
				}
				if n <= tc.refusals {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"blob unknown to registry","detail":"sha256:ab"}]}`, tc.code)
					return
				}
				w.WriteHeader(http.StatusCreated)
			})
			r := repoOn(t, testClient(t, "", ""), srv)
			err := r.PutManifest(context.Background(), "1", "application/vnd.oci.image.manifest.v1+json", []byte(`{"m":1}`))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("PutManifest: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("PutManifest: %v, want %q", err, tc.wantErr)
			}
			if n.Load() != tc.wantReqs {
				t.Errorf("%d requests, want %d", n.Load(), tc.wantReqs)
			}
		})
	}
}

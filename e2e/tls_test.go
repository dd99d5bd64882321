package e2e

// TLS against docker-registry serving a certificate from a CA the test
// generates: refused by default with an error naming ca_file and insecure,
// accepted with ca_file, accepted with insecure = true; and HTTPS_PROXY /
// NO_PROXY honoured, through a CONNECT proxy on loopback.
//
// A registry on 127.0.0.1 or localhost is spoken to over plain HTTP (as
// docker does), and Go never proxies loopback addresses, so these tests
// name the TLS registries otherwise: 127.0.0.2 (loopback too on Linux,
// but not special-cased), "registry.test" (resolved by the test's proxy
// only: the client never looks it up), and a loopback alias from
// /etc/hosts for NO_PROXY.

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagesync/imagesync/internal/testregistry"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	pemPath string // the CA certificate, PEM
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "imagesync test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return &testCA{cert: cert, key: key, pemPath: path}
}

// issue makes a server certificate for the names and IPs, and returns
// the certificate and key files.
func (ca *testCA) issue(t *testing.T, names []string, ips ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "imagesync test registry"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile
}

// freeAddrOn finds a free port on a loopback IP.
func freeAddrOn(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// tlsRegistry starts docker-registry with a certificate from ca on ip,
// valid for names and ip; storage may be "".
func tlsRegistry(t *testing.T, ca *testCA, ip, storage string, names ...string) *testregistry.Server {
	t.Helper()
	cert, key := ca.issue(t, names, ip)
	opts := []testregistry.Option{testregistry.WithTLS(cert, key), testregistry.WithAddr(freeAddrOn(t, ip))}
	if storage != "" {
		opts = append(opts, testregistry.WithStorageDir(storage))
	}
	return testregistry.StartT(t, opts...)
}

// copyCA puts the CA certificate into the rig as ca.pem, for ca_file.
func (r *rig) copyCA(ca *testCA) {
	r.t.Helper()
	writeFile(r.t, filepath.Join(r.dir, "ca.pem"), readFile(r.t, ca.pemPath))
}

// wantTLSHint checks a failed run's message names the registry, ca_file
// and insecure = true.
func wantTLSHint(t *testing.T, res result, host string) {
	t.Helper()
	out := res.stderr + res.stdout
	for _, want := range []string{
		"TLS certificate of " + host + " is not trusted",
		"x509: certificate signed by unknown authority",
		"ca_file",
		"insecure = true",
		fmt.Sprintf("registry %q block of images.hcl", host),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in the error:\n%v", want, res)
		}
	}
}

func TestTLSTarget(t *testing.T) {
	imgs := rigImages()
	ca := newTestCA(t)
	src := testregistry.StartT(t, testregistry.WithStorageDir(seedStorage(t, imgs)))

	t.Run("refused by default", func(t *testing.T) {
		dst := tlsRegistry(t, ca, "127.0.0.2", "")
		r := newRig(t, src.Host(), dst.Host(), imgs, "")
		r.must(0, "lock")
		for _, args := range [][]string{{"plan"}, {"apply", "--auto-approve"}, {"verify"}} {
			res := r.must(1, args...)
			t.Logf("%v:\n%v", args, res)
			wantTLSHint(t, res, dst.Host())
		}
		if reqs := accessLog(t, dst, 0); len(reqs) != 0 {
			t.Errorf("the registry served %d requests over a connection the client did not trust", len(reqs))
		}
	})

	t.Run("ca_file", func(t *testing.T) {
		dst := tlsRegistry(t, ca, "127.0.0.2", "")
		r := newRig(t, src.Host(), dst.Host(), imgs, fmt.Sprintf("registry %q {\n  ca_file = \"ca.pem\"\n}\n", dst.Host()))
		r.copyCA(ca)
		r.must(0, "lock")
		if res := r.must(2, "plan", "--detailed-exitcode"); !strings.Contains(res.stdout, "3 to create") {
			t.Fatalf("plan:\n%v", res)
		}
		r.must(0, "apply", "--auto-approve")
		r.checkMirrored()
	})

	t.Run("insecure", func(t *testing.T) {
		dst := tlsRegistry(t, ca, "127.0.0.2", "")
		r := newRig(t, src.Host(), dst.Host(), imgs, fmt.Sprintf("registry %q {\n  insecure = true\n}\n", dst.Host()))
		r.must(0, "lock")
		r.must(0, "apply", "--auto-approve")
		r.checkMirrored()
		// Over TLS all the same, only unverified.
		if reqs := accessLog(t, dst, 0); len(reqs) == 0 {
			t.Error("the TLS registry served nothing")
		}
	})
}

func TestTLSSource(t *testing.T) {
	imgs := rigImages()
	ca := newTestCA(t)
	src := tlsRegistry(t, ca, "127.0.0.2", seedStorage(t, imgs))
	dst := testregistry.StartT(t)
	r := newRig(t, src.Host(), dst.Host(), imgs, "")
	res := r.must(1, "lock")
	t.Logf("lock:\n%v", res)
	wantTLSHint(t, res, src.Host())

	r.writeConfig(fmt.Sprintf("registry %q {\n  ca_file = \"ca.pem\"\n}\n", src.Host()))
	r.copyCA(ca)
	r.must(0, "lock")
	r.must(0, "apply", "--auto-approve")
	r.checkMirrored()
}

// connectProxy is an HTTPS proxy on loopback: it answers CONNECT for the
// host:port it was told about, dialling the loopback address mapped to
// it, counts every request, and refuses everything else. It never dials
// anything but the loopback addresses it was given.
type connectProxy struct {
	srv    *http.Server
	ln     net.Listener
	routes map[string]string // "registry.test:5000" -> "127.0.0.1:5000"

	mu       sync.Mutex
	connects []string // the CONNECT targets, in order
	others   []string // any other request, "METHOD URL"
}

func startConnectProxy(t *testing.T, routes map[string]string) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{ln: ln, routes: routes}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

func (p *connectProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if r.Method != http.MethodConnect {
		p.others = append(p.others, r.Method+" "+r.URL.String())
		p.mu.Unlock()
		http.Error(w, "this proxy only tunnels", http.StatusBadGateway)
		return
	}
	p.connects = append(p.connects, r.Host)
	dst, ok := p.routes[r.Host]
	p.mu.Unlock()
	if !ok {
		http.Error(w, "no route to "+r.Host, http.StatusForbidden)
		return
	}
	upstream, err := net.DialTimeout("tcp", dst, 5*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() {
		_, _ = io.Copy(upstream, buf) // what the client already sent, then the rest
		_ = upstream.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(conn, upstream)
	conn.Close()
	upstream.Close()
}

func (p *connectProxy) seen() (connects, others []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.connects...), append([]string(nil), p.others...)
}

// proxyEnv is the environment of a run through proxy, NO_PROXY noProxy.
func proxyEnv(proxy, noProxy string) []string {
	return []string{"HTTPS_PROXY=" + proxy, "https_proxy=" + proxy, "HTTP_PROXY=" + proxy, "http_proxy=" + proxy,
		"NO_PROXY=" + noProxy, "no_proxy=" + noProxy}
}

func TestTLSThroughHTTPSProxy(t *testing.T) {
	imgs := rigImages()
	ca := newTestCA(t)
	src := testregistry.StartT(t, testregistry.WithStorageDir(seedStorage(t, imgs)))
	dst := tlsRegistry(t, ca, "127.0.0.1", "", "registry.test")
	_, port, _ := net.SplitHostPort(dst.Host())
	name := "registry.test:" + port
	proxy := startConnectProxy(t, map[string]string{name: dst.Host()})

	r := newRig(t, src.Host(), name, imgs, fmt.Sprintf("registry %q {\n  ca_file = \"ca.pem\"\n}\n", name))
	r.copyCA(ca)
	r.env = proxyEnv(proxy.URL(), "")
	r.must(0, "lock") // the source is on 127.0.0.1: never proxied
	if connects, others := proxy.seen(); len(connects)+len(others) != 0 {
		t.Errorf("lock used the proxy for a loopback source: %v %v", connects, others)
	}
	r.must(0, "apply", "--auto-approve")
	r.checkMirrored()
	connects, others := proxy.seen()
	if len(connects) == 0 || len(others) != 0 {
		t.Fatalf("proxy saw CONNECT %v and other requests %v; want only CONNECTs to %s", connects, others, name)
	}
	for _, c := range connects {
		if c != name {
			t.Errorf("CONNECT to %s, want only %s", c, name)
		}
	}
	t.Logf("%d CONNECTs to %s through %s", len(connects), name, proxy.URL())
}

// loopbackAlias is a name /etc/hosts maps to a loopback address that Go
// would send through a proxy (not "localhost", not an IP) and that
// go-containerregistry speaks HTTPS to (not *.local, *.localhost): a host
// the client can reach directly without asking DNS.
func loopbackAlias(t *testing.T) (name, ip string) {
	t.Helper()
	f, err := os.Open("/etc/hosts")
	if err != nil {
		t.Skipf("no /etc/hosts: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		addr := net.ParseIP(fields[0])
		if addr == nil || !addr.IsLoopback() {
			continue
		}
		for _, n := range fields[1:] {
			if n == "localhost" || strings.HasSuffix(n, ".local") || strings.HasSuffix(n, ".localhost") {
				continue
			}
			if l, err := net.Listen("tcp", net.JoinHostPort(addr.String(), "0")); err == nil {
				l.Close()
				return n, addr.String()
			}
		}
	}
	t.Skip("/etc/hosts maps no name but localhost to a loopback address; NO_PROXY cannot be tested without DNS")
	return "", ""
}

func TestTLSNoProxy(t *testing.T) {
	alias, ip := loopbackAlias(t)
	imgs := rigImages()
	ca := newTestCA(t)
	src := testregistry.StartT(t, testregistry.WithStorageDir(seedStorage(t, imgs)))
	dst := tlsRegistry(t, ca, ip, "", alias)
	_, port, _ := net.SplitHostPort(dst.Host())
	name := net.JoinHostPort(alias, port)
	proxy := startConnectProxy(t, map[string]string{name: dst.Host()})

	r := newRig(t, src.Host(), name, imgs, fmt.Sprintf("registry %q {\n  ca_file = \"ca.pem\"\n}\n", name))
	r.copyCA(ca)
	r.must(0, "lock")

	// Without NO_PROXY the target goes through the proxy...
	r.env = proxyEnv(proxy.URL(), "")
	r.must(2, "plan", "--detailed-exitcode")
	if connects, _ := proxy.seen(); len(connects) == 0 {
		t.Fatalf("plan did not use HTTPS_PROXY for %s", name)
	}
	before, _ := proxy.seen()

	// ... with NO_PROXY naming it, straight to the registry.
	r.env = proxyEnv(proxy.URL(), "example.invalid,"+alias)
	r.must(0, "apply", "--auto-approve")
	r.checkMirrored()
	if connects, others := proxy.seen(); len(connects) != len(before) || len(others) != 0 {
		t.Errorf("NO_PROXY=%s ignored: the proxy saw %v %v", alias, connects[len(before):], others)
	}
}

package testregistry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fakeTB records what StartT asks of a test without stopping this one.
type fakeTB struct {
	fatal, skip string
	cleanups    []func()
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Errorf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }
func (f *fakeTB) Skipf(format string, args ...any)  { f.skip = fmt.Sprintf(format, args...) }
func (f *fakeTB) Cleanup(fn func())                 { f.cleanups = append(f.cleanups, fn) }

func TestStartTMissingBinary(t *testing.T) {
	t.Setenv(BinaryEnv, filepath.Join(t.TempDir(), "missing"))
	t.Setenv(ModeEnv, "")

	t.Setenv("CI", "")
	var local fakeTB
	if s := StartT(&local, WithMode(ModeBinary)); s != nil || local.fatal != "" || !strings.Contains(local.skip, "apt-get install docker-registry") {
		t.Errorf("Binary outside CI: server %v, fatal %q, skip %q; want a skip naming the package", s, local.fatal, local.skip)
	}

	t.Setenv("CI", "true")
	var ci fakeTB
	if s := StartT(&ci, WithMode(ModeBinary)); s != nil || ci.skip != "" || !strings.Contains(ci.fatal, "CI must install docker-registry") {
		t.Errorf("Binary in CI: server %v, fatal %q, skip %q; want a failure", s, ci.fatal, ci.skip)
	}

	// Without a mode the test runs in-process, in CI too.
	var auto fakeTB
	s := StartT(&auto)
	if s == nil || !s.InProcess() || auto.fatal != "" || auto.skip != "" || len(auto.cleanups) != 1 {
		t.Fatalf("Auto: server %v, fatal %q, skip %q", s, auto.fatal, auto.skip)
	}
	auto.cleanups[0]()
	if _, err := os.Stat(s.workDir); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s: %v", s.workDir, err)
	}
}

func TestTLS(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode Option) {
		certFile, keyFile, pool := selfSigned(t)
		s := StartT(t, mode, WithTLS(certFile, keyFile))
		if !strings.HasPrefix(s.URL(), "https://") {
			t.Fatalf("URL() = %q", s.URL())
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		defer tr.CloseIdleConnections()
		// ggcr tries https first even for "insecure" loopback references.
		ref, _ := pushRandom(t, s.Host(), "secure/app", remote.WithTransport(tr))
		if _, err := remote.Head(ref, remote.WithTransport(tr)); err != nil {
			t.Fatalf("HEAD over TLS: %v", err)
		}
		resp, err := http.Get("http://" + s.Host() + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS registry: %s, want 400", resp.Status)
		}
	})
}

// selfSigned writes a certificate for 127.0.0.1 and returns its files and
// a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "testregistry"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

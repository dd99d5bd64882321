// Package testregistry runs real container registries on loopback ports for
// tests and the demo: the CNCF distribution registry, either Debian's
// docker-registry as a child process or, when that is not installed, the
// same code (github.com/distribution/distribution/v3) served in-process
// over real HTTP with filesystem storage. Both speak the registry protocol
// as the registries imagesync meets do: upload sessions, media type and
// index checks, htpasswd auth, TLS.
//
// This file and the others without "testing" in them do not import the
// testing package, so that the demo binary can use them.
package testregistry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// readyTimeout bounds how long Start waits for GET /v2/ to answer.
const readyTimeout = 10 * time.Second

// probeUserAgent marks Start's readiness probes in the access log, so that
// Requests can leave them out.
const probeUserAgent = "testregistry-readiness-probe"

// Server is a running registry on a loopback port.
type Server struct {
	addr    string
	scheme  string
	workDir string // temporary; removed on Close

	proc   *process   // the docker-registry child, nil when in-process
	inproc *inProcess // the in-process fallback, nil when a child runs

	closeOnce sync.Once
	closeErr  error
}

// Host is the registry's "127.0.0.1:PORT".
func (s *Server) Host() string { return s.addr }

// URL is "http://127.0.0.1:PORT" (https with WithTLS).
func (s *Server) URL() string { return s.scheme + "://" + s.addr }

// LogPath is the file holding the registry's log, access log included; ""
// for the in-process fallback, which keeps its requests in memory. The file
// lives in the server's working directory and is removed by Close.
func (s *Server) LogPath() string {
	if s.proc == nil {
		return ""
	}
	return s.proc.logPath
}

// InProcess reports whether the server is the in-process fallback rather
// than docker-registry, so that a demo can say which it runs.
func (s *Server) InProcess() bool { return s.inproc != nil }

// Close stops the registry (SIGTERM, then kill after a timeout), waits for
// it, and removes its temporary working directory. It is safe to call more
// than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.proc != nil {
			errs = append(errs, s.proc.stop())
		}
		if s.inproc != nil {
			errs = append(errs, s.inproc.stop())
		}
		if err := os.RemoveAll(s.workDir); err != nil {
			errs = append(errs, fmt.Errorf("removing registry working directory: %w", err))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Start starts a registry and returns once GET /v2/ answers. ctx bounds the
// start only: the registry runs until Close. Which implementation runs is
// decided by WithMode (and ModeEnv): docker-registry when installed,
// otherwise the same code in-process.
func Start(ctx context.Context, opts ...Option) (*Server, error) {
	o, err := buildOptions(opts).resolve()
	if err != nil {
		return nil, fmt.Errorf("starting registry: %w", err)
	}
	if inProcess, err := o.runsInProcess(); err != nil {
		return nil, fmt.Errorf("starting registry: %w", err)
	} else if inProcess {
		return startInProcess(ctx, o)
	}
	// A free port found by listening on :0 is released before the
	// registry binds it, so another process may take it in between; retry
	// with a new port rather than fail a test on that race.
	attempts := 1
	if o.addr == "" {
		attempts = 3
	}
	for range attempts {
		var s *Server
		s, err = startProcess(ctx, o)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return nil, err
}

// runsInProcess decides between docker-registry and the in-process
// registry; an error wraps ErrNoBinary when the binary is required but
// missing.
func (o options) runsInProcess() (bool, error) {
	switch {
	case o.mode == ModeInProcess || o.indexPlatforms != "":
		if o.mode == ModeBinary {
			return false, errors.New("WithIndexValidation needs the in-process registry: docker-registry 2.8 has no such setting")
		}
		return true, nil
	case o.mode == ModeBinary:
		return false, Available()
	default:
		return Available() != nil, nil
	}
}

// freeAddr finds a loopback port that nothing listens on right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free loopback port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("releasing free loopback port: %w", err)
	}
	return addr, nil
}

// newWorkDir creates the server's temporary directory and decides where
// storage goes.
func newWorkDir(o options) (workDir, storageDir string, err error) {
	workDir, err = os.MkdirTemp("", "testregistry-*")
	if err != nil {
		return "", "", fmt.Errorf("creating registry working directory: %w", err)
	}
	storageDir = o.storageDir
	if storageDir == "" {
		storageDir = workDir + string(os.PathSeparator) + "storage"
	}
	if err := os.MkdirAll(storageDir, 0o755); err != nil {
		_ = os.RemoveAll(workDir)
		return "", "", fmt.Errorf("creating registry storage directory: %w", err)
	}
	return workDir, storageDir, nil
}

// waitReady polls GET /v2/ until the registry answers. Any HTTP answer
// counts, 401 included, since a registry with htpasswd is ready too. exited
// is closed when the registry is gone, which makes waiting pointless. bound,
// when not nil, must also report true: it tells that the answer came from
// our registry and not from another one already on a fixed address.
func waitReady(ctx context.Context, url string, exited <-chan struct{}, bound func() bool) error {
	client := &http.Client{
		Timeout: time.Second,
		// The probe only asks whether something answers; tests that use
		// WithTLS bring their own self-signed certificates.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v2/", nil)
		if err != nil {
			return fmt.Errorf("building readiness probe: %w", err)
		}
		req.Header.Set("User-Agent", probeUserAgent)
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			answered := resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized
			if answered && (bound == nil || bound()) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s/v2/ to answer: %w (last probe: %v)", url, ctx.Err(), probeResult(resp, err))
		case <-exited:
			return errExited
		case <-tick.C:
		}
	}
}

var errExited = errors.New("registry exited before answering")

func probeResult(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

package testregistry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// inProcess is go-containerregistry's registry served from this process.
type inProcess struct {
	srv    *http.Server
	served chan error // receives Serve's result once it returns
	rec    *recorder
}

// startInProcess serves pkg/registry on the requested (or a free) loopback
// address. Blobs go to the storage directory so that a long demo does not
// hold every layer in memory; manifests stay in memory.
func startInProcess(ctx context.Context, o options) (*Server, error) {
	if o.htpasswd != "" {
		return nil, errors.New("starting in-process registry: htpasswd auth is only supported by docker-registry")
	}
	addr := o.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	workDir, storageDir, err := newWorkDir(o)
	if err != nil {
		return nil, err
	}
	blobDir := filepath.Join(storageDir, "blobs")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		_ = os.RemoveAll(workDir)
		return nil, fmt.Errorf("creating in-process registry blob directory: %w", err)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		_ = os.RemoveAll(workDir)
		return nil, fmt.Errorf("starting in-process registry on %s: %w", addr, err)
	}
	rec := &recorder{}
	handler := registry.New(
		registry.Logger(log.New(io.Discard, "", 0)),
		registry.WithBlobHandler(registry.NewDiskBlobHandler(blobDir)),
	)
	ip := &inProcess{
		srv:    &http.Server{Handler: rec.wrap(handler), ReadHeaderTimeout: 10 * time.Second},
		served: make(chan error, 1),
		rec:    rec,
	}
	s := &Server{addr: l.Addr().String(), scheme: "http", workDir: workDir, inproc: ip}
	go func() {
		if o.certFile != "" {
			ip.served <- ip.srv.ServeTLS(l, o.certFile, o.keyFile)
		} else {
			ip.served <- ip.srv.Serve(l)
		}
	}()
	if o.certFile != "" {
		s.scheme = "https"
	}
	if err := waitReady(ctx, s.URL(), nil, nil); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("starting in-process registry on %s: %w", s.addr, err)
	}
	return s, nil
}

// stop closes the server at once, like docker-registry on SIGTERM with
// no drain timeout. A graceful Shutdown would wait up to five seconds for
// connections a client opened but never used.
func (ip *inProcess) stop() error {
	if err := ip.srv.Close(); err != nil {
		return fmt.Errorf("closing in-process registry: %w", err)
	}
	if err := <-ip.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving in-process registry: %w", err)
	}
	return nil
}

// recorder keeps the requests of the in-process registry, which writes no
// access log, so that Requests works for it too.
type recorder struct {
	mu   sync.Mutex
	reqs []Request
}

func (rec *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.reqs = append(rec.reqs, Request{
			Method: r.Method,
			Path:   r.URL.Path,
			Query:  r.URL.RawQuery,
			Status: sw.status,
			Bytes:  sw.bytes,

			UserAgent: r.UserAgent(),
		})
	})
}

func (rec *recorder) snapshot() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Request(nil), rec.reqs...)
}

// statusWriter remembers the status and body size, as an access log does.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

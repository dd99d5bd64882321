package testregistry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"

	// The registrations docker-registry makes too: htpasswd auth and
	// filesystem storage, looked up by name from the configuration.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// inProcess is the CNCF distribution registry, the code Debian packages as
// docker-registry, served from this process: the same storage layout,
// upload sessions, manifest validation and htpasswd auth, on a real
// loopback socket. Only the process boundary is missing, so "killing" it
// means closing every connection at once.
type inProcess struct {
	srv    *http.Server
	app    *handlers.App
	served chan error // receives Serve's result once it returns
	rec    *recorder
}

// quietLogrus keeps distribution's logrus output (which goes to the
// process-wide standard logger, the only one the library lets us reach) to
// errors, so that a test's output is not flooded with request lines.
var quietLogrus sync.Once

// startInProcess serves distribution's registry application on the
// requested (or a free) loopback address, configured as startProcess
// configures docker-registry.
func startInProcess(ctx context.Context, o options) (*Server, error) {
	quietLogrus.Do(func() {
		logrus.SetLevel(logrus.ErrorLevel)
		logrus.SetOutput(io.Discard)
	})
	addr := o.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	workDir, storageDir, err := newWorkDir(o)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		_ = os.RemoveAll(workDir)
		return nil, fmt.Errorf("starting in-process registry on %s: %w", addr, err)
	}
	app, err := newApp(ctx, o, storageDir)
	if err != nil {
		_ = l.Close()
		_ = os.RemoveAll(workDir)
		return nil, err
	}
	rec := &recorder{}
	ip := &inProcess{
		srv:    &http.Server{Handler: rec.wrap(app), ReadHeaderTimeout: 10 * time.Second},
		app:    app,
		served: make(chan error, 1),
		rec:    rec,
	}
	s := &Server{addr: l.Addr().String(), scheme: "http", workDir: workDir, inproc: ip}
	if o.certFile != "" {
		s.scheme = "https"
	}
	go func() {
		if o.certFile != "" {
			ip.served <- ip.srv.ServeTLS(l, o.certFile, o.keyFile)
		} else {
			ip.served <- ip.srv.Serve(l)
		}
	}()
	if err := waitReady(ctx, s.URL(), nil, nil); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("starting in-process registry on %s: %w", s.addr, err)
	}
	return s, nil
}

// newApp builds the registry application. distribution reports a bad
// configuration by panicking; that becomes an error here.
func newApp(ctx context.Context, o options, storageDir string) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("configuring in-process registry: %v", p)
		}
	}()
	return handlers.NewApp(ctx, appConfig(o, storageDir)), nil
}

// appConfig is configYAML's configuration as a value: built directly
// rather than parsed, because distribution's parser also reads REGISTRY_*
// variables from the environment, which must not move a test registry.
func appConfig(o options, storageDir string) *configuration.Configuration {
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"filesystem": configuration.Parameters{"rootdirectory": storageDir},
			"delete":     configuration.Parameters{"enabled": o.deleteEnabled},
			"maintenance": configuration.Parameters{
				"uploadpurging": map[any]any{"enabled": false},
			},
		},
	}
	cfg.HTTP.Secret = randomSecret()
	cfg.Log.AccessLog.Disabled = true // the recorder keeps the requests instead
	if o.htpasswd != "" {
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{
			"realm": "testregistry",
			"path":  o.htpasswd,
		}}
	}
	if o.indexPlatforms != "" {
		cfg.Validation.Manifests.Indexes.Platforms = configuration.Platforms(o.indexPlatforms)
	}
	return cfg
}

// stop closes the server at once, like docker-registry on SIGTERM with
// no drain timeout: connections and uploads in flight are cut. A graceful
// Shutdown would wait for connections a client opened but never used.
func (ip *inProcess) stop() error {
	var errs []error
	if err := ip.srv.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing in-process registry: %w", err))
	}
	if err := <-ip.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("serving in-process registry: %w", err))
	}
	if err := ip.app.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("shutting down in-process registry: %w", err))
	}
	return errors.Join(errs...)
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

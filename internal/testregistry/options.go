package testregistry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DefaultBinary is where Debian's docker-registry package installs the CNCF
// distribution registry.
const DefaultBinary = "/usr/bin/docker-registry"

// BinaryEnv names the environment variable that overrides DefaultBinary, so
// that a machine with the registry elsewhere (or a test that wants it
// missing) can say so without code changes.
const BinaryEnv = "IMAGESYNC_REGISTRY_BIN"

// ErrNoBinary is wrapped by the errors of Start and Available when the
// docker-registry binary is missing, so that callers can tell "not
// installed" apart from "failed to start".
var ErrNoBinary = errors.New("docker-registry binary not found")

// Binary is the path of the docker-registry binary: $IMAGESYNC_REGISTRY_BIN
// when set, DefaultBinary otherwise.
func Binary() string {
	if p := os.Getenv(BinaryEnv); p != "" {
		return p
	}
	return DefaultBinary
}

// Available reports whether Binary exists, as an error wrapping ErrNoBinary
// (with the install hint) when it does not.
func Available() error {
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%w at %s (install Debian's docker-registry package or set %s): %v",
			ErrNoBinary, bin, BinaryEnv, err)
	}
	return nil
}

// Option configures Start.
type Option func(*options)

// Mode says which implementation of the registry a Server runs.
type Mode int

const (
	// ModeAuto runs docker-registry when it is installed and the same code
	// in-process otherwise: the default.
	ModeAuto Mode = iota
	// ModeBinary requires docker-registry; Start fails without it and StartT
	// skips (or fails when CI=true).
	ModeBinary
	// ModeInProcess serves the distribution registry from this process even
	// when docker-registry is installed, so that CI exercises the path a
	// fresh machine takes.
	ModeInProcess
)

// ModeEnv names the environment variable that overrides ModeAuto for a whole
// test run: "binary" or "inprocess". Tests that ask for a mode explicitly
// keep it.
const ModeEnv = "IMAGESYNC_TEST_REGISTRY"

type options struct {
	addr              string
	storageDir        string
	deleteEnabled     bool
	htpasswd          string
	certFile, keyFile string
	indexPlatforms    string
	mode              Mode
}

func buildOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.mode == ModeAuto {
		switch os.Getenv(ModeEnv) {
		case "binary":
			o.mode = ModeBinary
		case "inprocess":
			o.mode = ModeInProcess
		}
	}
	return o
}

// resolve makes the paths absolute, because the registry runs in its own
// working directory, and checks that the files exist: distribution quietly
// creates a missing htpasswd file with a random password, which would turn
// a typo into puzzling 401s.
func (o options) resolve() (options, error) {
	for _, p := range []*string{&o.storageDir, &o.htpasswd, &o.certFile, &o.keyFile} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return o, fmt.Errorf("resolving registry path %s: %w", *p, err)
		}
		*p = abs
	}
	for _, p := range []string{o.htpasswd, o.certFile, o.keyFile} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return o, fmt.Errorf("registry option file: %w", err)
		}
	}
	return o, nil
}

// WithAddr makes the registry listen on a fixed address such as
// "127.0.0.1:5101" (the demo prints fixed ports). The default is a free
// loopback port.
func WithAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// WithStorageDir keeps the registry's data in dir, which Close leaves in
// place. The default is a directory inside the server's temporary working
// directory, removed on Close.
func WithStorageDir(dir string) Option { return func(o *options) { o.storageDir = dir } }

// WithDeleteEnabled allows DELETE of manifests and blobs
// (storage.delete.enabled), which the registry refuses by default.
func WithDeleteEnabled() Option { return func(o *options) { o.deleteEnabled = true } }

// WithHtpasswd requires HTTP basic auth checked against an htpasswd file
// (bcrypt entries only, as distribution demands).
func WithHtpasswd(path string) Option { return func(o *options) { o.htpasswd = path } }

// WithTLS serves HTTPS with the given PEM certificate and key; URL then
// starts with https://.
func WithTLS(certFile, keyFile string) Option {
	return func(o *options) { o.certFile, o.keyFile = certFile, keyFile }
}

// WithMode chooses docker-registry or the in-process registry; the
// default is ModeAuto.
func WithMode(m Mode) Option { return func(o *options) { o.mode = m } }

// WithIndexValidation sets distribution's
// validation.manifests.indexes.platforms: "all" (the default: an index is
// refused unless every child it lists is in the repository), "none", or
// "list". Debian's docker-registry 2.8 has no such setting, so a server
// with a value other than "" runs in-process.
func WithIndexValidation(platforms string) Option {
	return func(o *options) { o.indexPlatforms = platforms }
}

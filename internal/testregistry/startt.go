package testregistry

import (
	"context"
	"errors"
	"os"
)

// TB is the part of testing.TB that StartT uses. It is an interface of our
// own so that this package need not import "testing", which would register
// test flags in the demo binary that links it.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
}

// StartT starts a registry for a test and closes it when the test ends.
//
// Without docker-registry the test runs against the in-process registry.
// Only a test that asks for WithMode(ModeBinary) needs the package: it is
// skipped on a developer machine with a message that says what to install,
// but fails when CI=true, since CI installs the package and a skip there
// would hide that the test stopped running.
func StartT(t TB, opts ...Option) *Server {
	t.Helper()
	o := buildOptions(opts)
	if o.mode == ModeBinary {
		if err := Available(); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI must install docker-registry (apt-get install docker-registry): %v", err)
				return nil // for TB implementations whose Fatalf returns
			}
			t.Skipf("skipping: this test needs Debian's docker-registry (apt-get install docker-registry): %v", err)
			return nil
		}
	}
	s, err := Start(context.Background(), opts...)
	if err != nil {
		if errors.Is(err, ErrNoBinary) && os.Getenv("CI") != "true" {
			t.Skipf("skipping: %v", err)
			return nil
		}
		t.Fatalf("starting test registry: %v", err)
		return nil
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing test registry: %v", err)
		}
	})
	return s
}

package testregistry

import (
	"context"
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
// When docker-registry is missing (and WithInProcessFallback is not among
// opts) the test is skipped on a developer machine, but fails when CI=true:
// CI must install the package, or the end-to-end tests silently stop
// running.
func StartT(t TB, opts ...Option) *Server {
	t.Helper()
	if err := Available(); err != nil && !buildOptions(opts).inProcessFallback {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must install docker-registry (apt-get install docker-registry): %v", err)
			return nil // for TB implementations whose Fatalf returns
		}
		t.Skipf("skipping: needs docker-registry (apt-get install docker-registry): %v", err)
		return nil
	}
	s, err := Start(context.Background(), opts...)
	if err != nil {
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

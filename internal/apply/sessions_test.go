package apply

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/diff"
)

// sessionTarget is a registry (go-containerregistry's, in memory) behind
// a proxy that keeps the upload sessions open on it: opened by a POST
// answered 202, closed by the PUT answered 201 that completes one or by a
// DELETE (which the proxy answers itself, 204, as the distribution
// registry does). putting is closed when a PUT of digest starts.
type sessionTarget struct {
	*httptest.Server
	mu      sync.Mutex
	open    map[string]bool
	deletes int
	digest  digest.Digest
	putting chan struct{}
	once    sync.Once
}

func newSessionTarget(t *testing.T, d digest.Digest) *sessionTarget {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s := &sessionTarget{open: map[string]bool{}, digest: d, putting: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session := strings.Contains(r.URL.Path, "/blobs/uploads/")
		switch {
		case session && r.Method == http.MethodDelete:
			s.mu.Lock()
			s.deletes++
			delete(s.open, r.URL.Path)
			s.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
			return
		case session && r.Method == http.MethodPut && r.URL.Query().Get("digest") == d.String():
			s.once.Do(func() { close(s.putting) })
		}
		sw := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		reg.ServeHTTP(sw, r)
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case session && r.Method == http.MethodPost && sw.code == http.StatusAccepted:
			loc := sw.Header().Get("Location")
			s.open[strings.SplitN(loc, "?", 2)[0]] = true
		case session && r.Method == http.MethodPut && sw.code == http.StatusCreated:
			delete(s.open, r.URL.Path)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// TestInterruptCancelsSessions: an apply interrupted mid-upload (its
// context ends, as Ctrl-C or SIGTERM end it) ends the upload sessions it
// has open with DELETE before it returns: none is left open.
func TestInterruptCancelsSessions(t *testing.T) {
	layer := bytes.Repeat([]byte("interrupted "), boundedLayerSize/12+1)[:boundedLayerSize]
	ld := digest.FromBytes(layer)
	stalled := make(chan struct{})
	var once sync.Once
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	src := &recorder{Server: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			// Half the layer, then nothing until the client leaves.
			w.Header().Set("Content-Length", strconv.Itoa(len(layer)))
			_, _ = w.Write(layer[:len(layer)/2])
			w.(http.Flusher).Flush()
			once.Do(func() { close(stalled) })
			<-r.Context().Done()
			return
		}
		inner.ServeHTTP(w, r)
	}))}
	t.Cleanup(src.Close)
	d := pushImage(t, src.host()+"/library/x:1", layered(t, layer))
	dst := newSessionTarget(t, ld)

	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	done := make(chan []Result)
	go func() {
		done <- engine(t, src, &recorder{Server: dst.Server}).Apply(ctx, []diff.Change{change("docker.io/library/x:1", dst.URL[len("http://"):]+"/mirror/x:1", d)})
	}()
	<-stalled
	<-dst.putting // the layer's upload is under way, half of it sent
	dst.mu.Lock()
	before := len(dst.open)
	dst.mu.Unlock()
	interrupt()
	results := <-done
	if err := results[0].Err; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want the interruption", err)
	}
	dst.mu.Lock()
	defer dst.mu.Unlock()
	if before == 0 || dst.deletes == 0 {
		t.Errorf("%d sessions open at the interruption, %d DELETEs", before, dst.deletes)
	}
	if len(dst.open) != 0 {
		t.Errorf("sessions left open on the target: %v", dst.open)
	}
}

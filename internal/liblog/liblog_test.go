package liblog

import (
	"fmt"
	"log"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
)

// TestCapture: what the libraries print through log, logrus and os.Stderr
// is captured, each distinct line once, attributed to the source its
// goroutine works on, even with several sources at once; everything is
// given back afterwards.
func TestCapture(t *testing.T) {
	logOut, stderr, rusOut := log.Writer(), os.Stderr, logrus.StandardLogger().Out
	c := Start()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, source := range []string{"helm app", "kustomize deploy/prod", "kustomize deploy/dev"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start // every source prints at once
			c.Do(source, func() {
				for range 50 {
					log.Printf("warning: from %s", source)
				}
				logrus.Warnf("logrus says %s", source)
			})
		}()
	}
	close(start)
	wg.Wait()
	log.Print("outside any source")
	fmt.Fprintln(os.Stderr, "# Warning: 'bases' is deprecated.")
	fmt.Fprintln(os.Stderr, "# Warning: 'bases' is deprecated.")
	got := c.Stop()

	want := []Message{
		{"", "# Warning: 'bases' is deprecated."},
		{"", "outside any source"},
		{"helm app", "logrus says helm app"},
		{"helm app", "warning: from helm app"},
		{"kustomize deploy/dev", "logrus says kustomize deploy/dev"},
		{"kustomize deploy/dev", "warning: from kustomize deploy/dev"},
		{"kustomize deploy/prod", "logrus says kustomize deploy/prod"},
		{"kustomize deploy/prod", "warning: from kustomize deploy/prod"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("captured:\n%q\nwant:\n%q", got, want)
	}
	if log.Writer() != logOut || os.Stderr != stderr || logrus.StandardLogger().Out != rusOut {
		t.Error("the libraries' output is not given back")
	}
}

// TestCaptureOneAtATime: a second capture waits for the first to stop.
func TestCaptureOneAtATime(t *testing.T) {
	first := Start()
	started := make(chan *Capture)
	go func() { started <- Start() }()
	log.Print("for the first")
	select {
	case <-started:
		t.Fatal("a second capture started while the first was under way")
	default:
	}
	if got := first.Stop(); len(got) != 1 || got[0].Text != "for the first" {
		t.Errorf("first captured %q", got)
	}
	second := <-started
	if got := second.Stop(); len(got) != 0 {
		t.Errorf("second captured %q", got)
	}
}

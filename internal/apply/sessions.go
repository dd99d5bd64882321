package apply

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/registry"
)

// sessionCancelTimeout bounds the DELETEs that end the upload sessions a
// run leaves open, sent when it is interrupted too.
const sessionCancelTimeout = 10 * time.Second

// sessions are the upload sessions the engine has open on the target
// registries: opened by a mount-or-upload POST answered 202 or by a POST
// of their own, closed by the PUT that completes them or a DELETE. A
// transfer that broke off, or a run interrupted (Ctrl-C, SIGTERM: the
// run's context ends) leaves some open; Apply ends them before it
// returns, rather than leave them to the registry's purge (a week, by
// distribution's default), holding the bytes sent so far.
type sessions struct {
	mu   sync.Mutex
	open map[string]*registry.Repo // by location
}

func (s *sessions) opened(repo *registry.Repo, location string) {
	if location == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open == nil {
		s.open = map[string]*registry.Repo{}
	}
	s.open[location] = repo
}

func (s *sessions) closed(location string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.open, location)
}

// opening is the context of a request that opens an upload session (a
// mount-or-upload POST, a POST of its own): ctx, but once ctx ends the
// request gets sessionCancelTimeout more to finish, so that the location
// of a session the registry opened is read, and the session can be ended,
// rather than left open unknown. stop releases it.
func opening(ctx context.Context) (octx context.Context, stop func()) {
	octx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var grace *time.Timer
	var mu sync.Mutex
	unwatch := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		grace = time.AfterFunc(sessionCancelTimeout, cancel)
	})
	return octx, func() {
		unwatch()
		mu.Lock()
		if grace != nil {
			grace.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// cancelsAtOnce bounds the DELETEs cancelAll sends at once: a run leaves
// a session open per transfer in flight at most (the hosts' transfer
// bounds, 8 by default), so that they go in one round trip, and a run cut
// short with many sessions open does not flood the registry as it exits.
const cancelsAtOnce = 8

// cancelAll ends every session still open with a DELETE, cancelsAtOnce at a time,
// within sessionCancelTimeout whether or not ctx has ended (an
// interrupted run cleans up before it exits). A DELETE that fails leaves
// the session to the registry's purge; it is logged, not reported.
func (s *sessions) cancelAll(ctx context.Context, logger *slog.Logger) {
	s.mu.Lock()
	open := s.open
	s.open = nil
	s.mu.Unlock()
	if len(open) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sessionCancelTimeout)
	defer cancel()
	var g errgroup.Group
	g.SetLimit(cancelsAtOnce)
	for location, repo := range open {
		g.Go(func() error {
			if err := repo.CancelUpload(ctx, location); err != nil {
				logger.Debug("cancel upload session left open", "repository", repo.Name(), "err", err)
			}
			return nil
		})
	}
	_ = g.Wait()
}

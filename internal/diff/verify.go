package diff

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/registry"
)

// Problem is one way the target registry differs from the lock.
type Problem struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Detail string `json:"detail"`
}

// Verify checks, without changing anything, that every locked image's
// target reference resolves to its locked digest and, when deep, that
// every child manifest and blob it needs is present. It returns the
// problems found; an error means the check itself could not be made.
func Verify(ctx context.Context, l *lock.Lock, client *registry.Client, deep bool) ([]Problem, error) {
	var mu sync.Mutex
	var problems []Problem
	report := func(img lock.Image, format string, args ...any) {
		mu.Lock()
		problems = append(problems, Problem{Source: img.Ref.String(), Target: img.Target.String(), Detail: fmt.Sprintf(format, args...)})
		mu.Unlock()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, img := range l.Images {
		g.Go(func() error {
			head, err := client.HeadTarget(gctx, img.Target)
			switch {
			case errors.Is(err, registry.ErrNotFound):
				report(img, "missing")
				return nil
			case err != nil:
				return fmt.Errorf("verify %s: %w", img.Target, err)
			case head.Digest != img.Digest:
				report(img, "points at %s, not the locked %s", head.Digest, img.Digest)
				return nil
			}
			if !deep {
				return nil
			}
			ep, err := client.TargetRepository(img.Target)
			if err != nil {
				return err
			}
			repo, err := client.Repo(gctx, ep, false)
			if err != nil {
				return err
			}
			for _, missing := range walk(gctx, repo, img.Digest) {
				report(img, "%s", missing)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.Slice(problems, func(i, j int) bool {
		if problems[i].Target != problems[j].Target {
			return problems[i].Target < problems[j].Target
		}
		return problems[i].Detail < problems[j].Detail
	})
	return problems, nil
}

// walk reads manifest d and everything below it, returning what is
// missing or broken.
func walk(ctx context.Context, repo *registry.Repo, d digest.Digest) []string {
	tree, err := repo.ReadTree(ctx, d, registry.WithPartial())
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	tree.Walk(func(m *registry.Manifest) {
		if m.Err != nil {
			out = append(out, fmt.Sprintf("manifest %s: %v", m.Digest, m.Err))
		}
		for _, b := range m.Blobs {
			if !b.MediaType.IsDistributable() {
				continue
			}
			ok, err := repo.HasBlob(ctx, digest.Digest(b.Digest.String()))
			switch {
			case err != nil:
				out = append(out, fmt.Sprintf("blob %s of manifest %s: %v", b.Digest, m.Digest, err))
			case !ok:
				out = append(out, fmt.Sprintf("blob %s of manifest %s is missing", b.Digest, m.Digest))
			}
		}
	})
	return out
}

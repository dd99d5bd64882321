package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/imagesync/imagesync/internal/imageref"
)

// RateLimit is what a registry announces of its pull quota in the
// ratelimit-limit and ratelimit-remaining headers, as Docker Hub sends
// them on manifest requests, HEAD included ("100;w=21600": 100 pulls per
// 21600 seconds).
type RateLimit struct {
	Limit     int
	Remaining int
	Window    time.Duration // 0 when the registry names none
}

// parseRateLimit reads the rate-limit headers of a response; nil when the
// registry sends none (authenticated accounts may get none) or sends them
// malformed.
func parseRateLimit(h http.Header) *RateLimit {
	limit, window, okLimit := parseQuota(h.Get("Ratelimit-Limit"))
	remaining, _, okRemaining := parseQuota(h.Get("Ratelimit-Remaining"))
	if !okLimit || !okRemaining {
		return nil
	}
	return &RateLimit{Limit: limit, Remaining: remaining, Window: window}
}

// parseQuota reads "N" or "N;w=SECONDS".
func parseQuota(v string) (int, time.Duration, bool) {
	count, params, _ := strings.Cut(strings.TrimSpace(v), ";")
	n, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil || n < 0 {
		return 0, 0, false
	}
	var window time.Duration
	for _, p := range strings.Split(params, ";") {
		if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && k == "w" {
			// A window of more than a year is not one (and would overflow).
			if secs, err := strconv.Atoi(val); err == nil && secs > 0 && secs <= 366*24*3600 {
				window = time.Duration(secs) * time.Second
			}
		}
	}
	return n, window, true
}

// RepositoryExists reports whether ref's target repository exists, from
// its tag list (at most one tag asked for, read-only): the registry
// answers NAME_UNKNOWN (404) for a repository it does not know.
func (c *Client) RepositoryExists(ctx context.Context, ref imageref.Ref) (bool, error) {
	repo, release, err := c.openTarget(ctx, ref, PullOnly)
	if err != nil {
		return false, err
	}
	defer release()
	resp, err := repo.do(ctx, http.MethodGet, repo.base+"/tags/list?n=1", nil, nil, http.StatusOK)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("list tags of %s: %w", repo.ep.Repo, err)
	}
	resp.Body.Close()
	return true, nil
}

// CheckPush finds out, leaving nothing behind, whether the credentials may
// push to ref's target repository: it asks for push access (a token
// service grants or refuses the scope), opens a blob upload session and
// cancels it with DELETE. nil means a push would be accepted; an error
// wrapping ErrNotFound is a registry that does not know the repository
// and does not create it on push (NAME_UNKNOWN, as ECR, Harbor and
// Artifact Registry answer); an *AuthError is a refusal of the
// credentials or of their permission (UNAUTHORIZED, DENIED); anything else
// means the check could not be made.
func (c *Client) CheckPush(ctx context.Context, ref imageref.Ref) error {
	repo, release, err := c.openTarget(ctx, ref, PushAccess)
	if err != nil {
		return err
	}
	defer release()
	location, err := repo.StartUpload(ctx)
	if err != nil {
		return err
	}
	// An upload session left open would expire on its own (the registry
	// purges stale uploads), but a check should leave nothing behind, even
	// when the run is interrupted meanwhile.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := repo.CancelUpload(cctx, location); err != nil {
		c.logger.Debug("cancel upload session", "repository", repo.ep.Repo.String(), "err", err)
	}
	return nil
}

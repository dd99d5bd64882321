package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
)

func TestParseRateLimit(t *testing.T) {
	for _, tt := range []struct {
		limit, remaining string
		want             *RateLimit
	}{
		{"100;w=21600", "76;w=21600", &RateLimit{Limit: 100, Remaining: 76, Window: 6 * time.Hour}},
		{"200", "0", &RateLimit{Limit: 200, Remaining: 0}},
		{" 100 ; w=60 ", "3;w=60", &RateLimit{Limit: 100, Remaining: 3, Window: time.Minute}},
		{"100;w=x", "3", &RateLimit{Limit: 100, Remaining: 3}},
		{"100;w=9999999999999", "3", &RateLimit{Limit: 100, Remaining: 3}},
		{"", "", nil},
		{"100;w=21600", "", nil},
		{"lots", "3", nil},
		{"-1", "3", nil},
	} {
		h := http.Header{}
		if tt.limit != "" {
			h.Set("ratelimit-limit", tt.limit)
		}
		if tt.remaining != "" {
			h.Set("RateLimit-Remaining", tt.remaining)
		}
		got := parseRateLimit(h)
		if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("parseRateLimit(%q, %q) = %+v, want %+v", tt.limit, tt.remaining, got, tt.want)
		}
	}
}

// probeRegistry is an in-process registry behind a handler that answers
// uploads to ecr/* with NAME_UNKNOWN, to ro/* with DENIED and to flaky/*
// with 500, as registries with repositories created by hand and
// per-user permissions do; it records every request.
type probeRegistry struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD path"
}

func newProbeRegistry(t *testing.T) *probeRegistry {
	t.Helper()
	p := &probeRegistry{}
	inner := registry.New()
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		upload := strings.Contains(r.URL.Path, "/blobs/uploads/") && r.Method == http.MethodPost
		switch {
		case upload && strings.HasPrefix(r.URL.Path, "/v2/ecr/"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`))
		case upload && strings.HasPrefix(r.URL.Path, "/v2/ro/"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
		case upload && strings.HasPrefix(r.URL.Path, "/v2/flaky/"):
			w.WriteHeader(http.StatusInternalServerError)
		default:
			inner.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *probeRegistry) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func TestCheckPushAndRepositoryExists(t *testing.T) {
	reg := newProbeRegistry(t)
	host := strings.TrimPrefix(reg.URL, "http://")
	pushImage(t, host+"/team/app:v1")
	mark := len(reg.requests())
	cfg, diags := config.Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(`target { registry = "`+host+`/team" }`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := New(cfg, WithKeychain(authn.NewMultiKeychain()), WithRetryPolicy(RetryPolicy{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}))
	ctx := t.Context()
	for _, tt := range []struct {
		repo   string
		exists bool
		check  func(error) bool
	}{
		{"team/app", true, func(err error) bool { return err == nil }},
		{"team/new", false, func(err error) bool { return err == nil }},
		{"ecr/app", false, func(err error) bool {
			return errors.Is(err, ErrNotFound) && strings.Contains(err.Error(), "NAME_UNKNOWN")
		}},
		{"ro/app", false, func(err error) bool {
			var aerr *AuthError
			return errors.As(err, &aerr) && aerr.Status == http.StatusForbidden && strings.Contains(aerr.Detail, "DENIED")
		}},
		{"flaky/app", false, func(err error) bool {
			var serr *StatusError
			return errors.As(err, &serr) && !errors.Is(err, ErrNotFound)
		}},
	} {
		ref := imageref.MustParse(host + "/" + tt.repo + ":v1")
		exists, err := c.RepositoryExists(ctx, ref)
		if err != nil || exists != tt.exists {
			t.Errorf("RepositoryExists(%s) = %v, %v; want %v", tt.repo, exists, err, tt.exists)
		}
		if err := c.CheckPush(ctx, ref); !tt.check(err) {
			t.Errorf("CheckPush(%s) = %v", tt.repo, err)
		}
	}
	var deletes, puts int
	for _, r := range reg.requests()[mark:] {
		switch {
		case strings.HasPrefix(r, "DELETE /v2/team/") && strings.Contains(r, "/blobs/uploads/"):
			deletes++
		case strings.HasPrefix(r, "PUT ") || strings.HasPrefix(r, "PATCH "):
			puts++
		}
	}
	if deletes != 2 || puts != 0 {
		t.Errorf("%d upload sessions cancelled (want 2, team/app and team/new), %d PUT/PATCH (want 0):\n%s", deletes, puts, strings.Join(reg.requests()[mark:], "\n"))
	}
}

// TestHeadRateLimit checks that a manifest HEAD carries the rate limit the
// registry announced with it, and none when it announced none.
func TestHeadRateLimit(t *testing.T) {
	inner := registry.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/limited/") {
			w.Header().Set("RateLimit-Limit", "100;w=21600")
			w.Header().Set("RateLimit-Remaining", "3;w=21600")
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	d := pushImage(t, host+"/limited/app:v1")
	pushImage(t, host+"/free/app:v1")
	c := clientFor(t, "")
	head, err := c.Resolve(t.Context(), imageref.MustParse(host+"/limited/app:v1@"+d.String()))
	if err != nil || head.RateLimit == nil || *head.RateLimit != (RateLimit{Limit: 100, Remaining: 3, Window: 6 * time.Hour}) {
		t.Errorf("HEAD of a limited repository: %+v, %v", head.RateLimit, err)
	}
	head, err = c.Resolve(t.Context(), imageref.MustParse(host+"/free/app:v1"))
	if err != nil || head.RateLimit != nil {
		t.Errorf("HEAD without rate-limit headers: %+v, %v", head.RateLimit, err)
	}
}

// FuzzParseRateLimit: whatever a registry sends in its rate-limit headers,
// parsing never panics and never yields a negative count or window.
func FuzzParseRateLimit(f *testing.F) {
	for _, seed := range [][2]string{{"100;w=21600", "76;w=21600"}, {"1", "0"}, {";w=", "x;w=1"}, {"9999999999999999999", "1;w=-5"}, {"1;w=9999999999999", "1"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, limit, remaining string) {
		h := http.Header{"Ratelimit-Limit": {limit}, "Ratelimit-Remaining": {remaining}}
		if rl := parseRateLimit(h); rl != nil && (rl.Limit < 0 || rl.Remaining < 0 || rl.Window < 0) {
			t.Errorf("parseRateLimit(%q, %q) = %+v", limit, remaining, rl)
		}
	})
}

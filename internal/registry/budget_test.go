package registry

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestBudget: a request is tried as often as its context's budget says,
// in one loop of the retry layer: the policy's tries by default, twice as
// many for a step (StepBudget), whose waits past the request budget stay
// at its last one; RetryWait spends the same budget on a step the layer
// cannot repeat by itself.
func TestBudget(t *testing.T) {
	const base, limit = 100 * time.Millisecond, 30 * time.Second
	for _, tc := range []struct {
		name      string
		attempts  int // RetryPolicy.Attempts; 0: the default
		budget    Budget
		wantTries int
		wantSteps []int // the backoff exponent of each wait
	}{
		{name: "request, default policy", budget: RequestBudget, wantTries: 6, wantSteps: []int{0, 1, 2, 3, 4}},
		{name: "step, default policy", budget: StepBudget, wantTries: 12, wantSteps: []int{0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4}},
		{name: "step, 3 tries a request", attempts: 3, budget: StepBudget, wantTries: 6, wantSteps: []int{0, 1, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &rtRecorder{}
			p := rec.policy(RetryPolicy{Attempts: tc.attempts, Base: base, Max: limit})
			tries := 0
			rt := NewRetryTransport(rtFunc(func(*http.Request) (*http.Response, error) {
				tries++
				return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Header: http.Header{}, Body: http.NoBody}, nil
			}), p)
			ctx := context.Background()
			if tc.budget != RequestBudget {
				ctx = WithBudget(ctx, tc.budget)
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://registry.test/v2/x/blobs/uploads/", nil)
			resp, err := rt.RoundTrip(req)
			if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("got %v, %v; want the last 503", resp, err)
			}
			if tries != tc.wantTries {
				t.Errorf("%d tries, want %d", tries, tc.wantTries)
			}
			waits, _, _ := rec.snapshot()
			checkSteps(t, "retry layer", waits, tc.wantSteps, base)

			// RetryWait: the same budget for a step the layer cannot repeat.
			rec = &rtRecorder{}
			c := &Client{opts: options{retry: rec.policy(RetryPolicy{Attempts: tc.attempts, Base: base, Max: limit})}}
			failures := 1
			for ; c.RetryWait(ctx, failures) == nil; failures++ {
			}
			if failures != tc.wantTries {
				t.Errorf("RetryWait allowed %d tries, want %d", failures, tc.wantTries)
			}
			if err := c.RetryWait(ctx, failures); !errors.Is(err, ErrBudgetSpent) {
				t.Errorf("RetryWait past the budget = %v, want ErrBudgetSpent", err)
			}
			waits, _, _ = rec.snapshot()
			checkSteps(t, "RetryWait", waits, tc.wantSteps, base)
		})
	}
}

// checkSteps fails unless each wait is the equal-jitter backoff of its
// step: in [ceil/2, ceil], ceil = base * 2^step.
func checkSteps(t *testing.T, who string, waits []time.Duration, steps []int, base time.Duration) {
	t.Helper()
	if len(waits) != len(steps) {
		t.Fatalf("%s: %d waits %v, want %d", who, len(waits), waits, len(steps))
	}
	for i, w := range waits {
		ceil := base << steps[i]
		if w < ceil/2 || w > ceil {
			t.Errorf("%s: wait %d is %s, want within [%s, %s]", who, i+1, w, ceil/2, ceil)
		}
	}
}

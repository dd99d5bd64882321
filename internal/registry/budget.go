package registry

import (
	"context"
	"errors"
)

// A retry budget is how many tries the retry layer (retry.go) gives a
// request. A step whose failure costs more than one request asks for a
// longer budget through the context of its requests, rather than run the
// step again over the layer (which multiplies the tries and restarts the
// backoff): the one policy, one loop, one count of tries per call.

// Budget names how many tries a request gets.
type Budget int

const (
	// RequestBudget is the policy's own: RetryPolicy.Attempts tries (6
	// by default, at least 3.1 s of backoff in all).
	RequestBudget Budget = iota
	// StepBudget is for a request whose failure ends a larger step: the
	// POST that opens an upload session, the PUT of a manifest. It is
	// twice RetryPolicy.Attempts, the waits past the request budget's held
	// at its last one (by default 12 tries, at least 3.1 + 6 x 1.6 =
	// 12.7 s): a registry restarting for longer than a request's tries
	// last is waited out without the backoff growing to minutes.
	StepBudget
)

// stepBudgetFactor is how many request budgets a StepBudget holds: the
// two rounds of tries a manifest push used to get by running the layer
// again.
const stepBudgetFactor = 2

type budgetKey struct{}

// WithBudget returns ctx giving every request made with it budget b.
func WithBudget(ctx context.Context, b Budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// budgetOf is the budget ctx carries, RequestBudget when none.
func budgetOf(ctx context.Context) Budget {
	b, _ := ctx.Value(budgetKey{}).(Budget)
	return b
}

// tries is how many tries budget b gives under p (p with its defaults).
func (p RetryPolicy) tries(b Budget) int {
	if b == StepBudget {
		return stepBudgetFactor * p.Attempts
	}
	return p.Attempts
}

// backoffStep is the exponent of the backoff after the attempt-th try
// (1-based) failed under budget b (p with its defaults): the tries past
// the request budget wait as long as its last wait.
func (p RetryPolicy) backoffStep(b Budget, attempt int) int {
	if b == StepBudget {
		return min(attempt-1, max(p.Attempts-2, 0))
	}
	return attempt - 1
}

// ErrBudgetSpent is returned by Client.RetryWait when the tries of the
// budget are spent.
var ErrBudgetSpent = errors.New("retry budget spent")

// RetryWait spends the retry budget of ctx on a step the retry layer
// cannot repeat by itself, because its fault shows after the response:
// a blob whose bytes fail the digest check, or run past its size. After
// the failures-th failed try of the step it waits as the layer would
// before its next try and returns nil, or returns ErrBudgetSpent when the
// budget allows no more tries, or ctx's error.
func (c *Client) RetryWait(ctx context.Context, failures int) error {
	p := c.opts.retry.withDefaults()
	b := budgetOf(ctx)
	if failures >= p.tries(b) {
		return ErrBudgetSpent
	}
	return p.Sleep(ctx, jitter(p.Base, p.Max, p.backoffStep(b, failures)))
}

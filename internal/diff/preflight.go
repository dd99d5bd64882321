package diff

import (
	"fmt"
	"strings"

	"github.com/imagesync/imagesync/internal/registry"
)

// TargetStatus is what the preflight of a plan found out about one target
// repository the plan writes to.
type TargetStatus string

const (
	// TargetOK: the repository exists and the credentials may push to it.
	TargetOK TargetStatus = "ok"
	// TargetCreatedOnPush: the repository does not exist yet, and the
	// registry accepts a push that creates it.
	TargetCreatedOnPush TargetStatus = "will be created on push"
	// TargetMissing: the repository does not exist and the registry does
	// not create it on push (NAME_UNKNOWN): apply would fail on it.
	TargetMissing TargetStatus = "missing"
	// TargetNoPush: the registry refuses the credentials a push, or their
	// permission to push (UNAUTHORIZED, DENIED): apply would fail on it.
	TargetNoPush TargetStatus = "no push permission"
	// TargetUnchecked: the check itself failed; apply may work or not.
	TargetUnchecked TargetStatus = "could not check"
)

// Blocks reports whether apply is certain to fail on a repository with
// this status.
func (s TargetStatus) Blocks() bool { return s == TargetMissing || s == TargetNoPush }

// TargetCheck is the preflight of one target repository.
type TargetCheck struct {
	Repository string // host/path, "reg.example.com/aim/redis"
	Status     TargetStatus
	// Detail is the registry's answer that decided the status, "" for ok.
	Detail string
	// Fix says what creates a missing repository or grants the
	// permission, "" when there is nothing to do.
	Fix string
}

// SourcePulls is what apply will ask of one source registry: the pulls
// that count against a quota such as Docker Hub's (manifest GETs; blob
// GETs do not count there), and the quota the registry announced.
type SourcePulls struct {
	Registry string // as images.lock names it, "docker.io"
	Images   int    // images apply will copy from it
	// Pulls is the number of manifest GETs apply will send: for an index
	// the index and one per locked platform, else the one manifest.
	Pulls int
	// Endpoint is where the rate limit was asked (a mirror or the registry
	// itself), "" when it was not.
	Endpoint string
	// RateLimit is what the endpoint announced, nil when it was not asked
	// or announced none.
	RateLimit *registry.RateLimit
	// Error is why the rate limit could not be read, "" when it could.
	Error string
}

// Exceeds reports whether apply needs more pulls than remain.
func (s SourcePulls) Exceeds() bool { return s.RateLimit != nil && s.Pulls > s.RateLimit.Remaining }

// Preflight is what plan found out before apply runs, without changing
// anything: whether each target repository the plan writes to accepts the
// push, and how many pulls apply needs from each source registry.
type Preflight struct {
	// Checked is true when the target repositories were checked (not
	// with --no-preflight, nor when the target was not compared).
	Checked bool
	Targets []TargetCheck // sorted by repository
	Pulls   []SourcePulls // sorted by registry
}

// Blocking returns the target repositories apply is certain to fail on.
func (p *Preflight) Blocking() []TargetCheck {
	if p == nil {
		return nil
	}
	var out []TargetCheck
	for _, t := range p.Targets {
		if t.Status.Blocks() {
			out = append(out, t)
		}
	}
	return out
}

// Count returns how many target repositories have each status.
func (p *Preflight) Count() map[TargetStatus]int {
	out := map[TargetStatus]int{}
	if p != nil {
		for _, t := range p.Targets {
			out[t.Status]++
		}
	}
	return out
}

// PreflightError says that apply is certain to fail on some target
// repositories: plan exits 1 with it, after showing the plan.
type PreflightError struct {
	Blocking []TargetCheck
}

func (e *PreflightError) Error() string {
	names := make([]string, len(e.Blocking))
	for i, t := range e.Blocking {
		names[i] = fmt.Sprintf("%s (%s)", t.Repository, t.Status)
	}
	noun := "repositories"
	if len(e.Blocking) == 1 {
		noun = "repository"
	}
	return fmt.Sprintf("apply would fail on %d target %s: %s; the preflight above says what to do", len(e.Blocking), noun, strings.Join(names, ", "))
}

// Err is a *PreflightError when apply is certain to fail, else nil.
func (p *Preflight) Err() error {
	if b := p.Blocking(); len(b) > 0 {
		return &PreflightError{Blocking: b}
	}
	return nil
}

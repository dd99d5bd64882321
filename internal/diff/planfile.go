package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/atomicfile"
	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/imageref"
)

// FormatVersion is the version of the plan's JSON form. It changes only
// when a field changes meaning or disappears; new fields may be added.
const FormatVersion = "1"

// maxPlanFile bounds what DecodePlan reads: a plan of 100,000 images is
// well under it.
const maxPlanFile = 64 << 20

// planJSON is the JSON form of a Plan: what `plan --json` prints, what
// `plan --out` saves and what `apply FILE` reads back. It is apart from
// the model so that the model can use typed references and digests while
// the document keeps its documented field names.
type planJSON struct {
	FormatVersion string       `json:"format_version"`
	LockSHA256    string       `json:"lock_sha256"`
	Changes       []changeJSON `json:"changes"`
	Summary       summaryJSON  `json:"summary"`
	// Shards is how many parts the plan is split into (plan --shard);
	// each change then names its part, so that every runner applies the
	// parts this plan was made with.
	Shards int `json:"shards,omitempty"`
	// TargetNotCompared is set when the plan compares images.lock with
	// the base branch's lock, not the target; apply refuses such a plan.
	TargetNotCompared *notComparedJSON `json:"target_not_compared,omitempty"`
	Preflight         *preflightJSON   `json:"preflight,omitempty"`
	// TargetRegistry is images.hcl's target.registry; OtherHosts the
	// targets of pending changes on another host, for reviewers (derived
	// from the changes, checked when read back).
	TargetRegistry string   `json:"target_registry,omitempty"`
	OtherHosts     []string `json:"targets_outside_target_registry,omitempty"`
}

type notComparedJSON struct {
	Reason   string `json:"reason"`
	BaseLock string `json:"base_lock"`
}

// preflightJSON is written, not read back: a saved plan is checked again
// against the target when it is applied.
type preflightJSON struct {
	Checked bool              `json:"checked"`
	Targets []targetCheckJSON `json:"targets"`
	Pulls   []sourcePullsJSON `json:"pulls"`
}

type targetCheckJSON struct {
	Repository string       `json:"repository"`
	Status     TargetStatus `json:"status"`
	Detail     string       `json:"detail,omitempty"`
	Fix        string       `json:"fix,omitempty"`
}

type sourcePullsJSON struct {
	Registry  string         `json:"registry"`
	Images    int            `json:"images"`
	Pulls     int            `json:"manifest_gets"`
	Endpoint  string         `json:"endpoint,omitempty"`
	RateLimit *rateLimitJSON `json:"rate_limit,omitempty"`
	Exceeds   bool           `json:"exceeds_rate_limit"`
	Error     string         `json:"error,omitempty"`
}

type rateLimitJSON struct {
	Limit         int `json:"limit"`
	Remaining     int `json:"remaining"`
	WindowSeconds int `json:"window_seconds,omitempty"`
}

// preflightDoc is the JSON form of a preflight; nil for nil.
func preflightDoc(p *Preflight) *preflightJSON {
	if p == nil {
		return nil
	}
	doc := &preflightJSON{Checked: p.Checked, Targets: []targetCheckJSON{}, Pulls: []sourcePullsJSON{}}
	for _, t := range p.Targets {
		doc.Targets = append(doc.Targets, targetCheckJSON(t))
	}
	for _, s := range p.Pulls {
		sj := sourcePullsJSON{Registry: s.Registry, Images: s.Images, Pulls: s.Pulls, Endpoint: s.Endpoint, Exceeds: s.Exceeds(), Error: s.Error}
		if rl := s.RateLimit; rl != nil {
			sj.RateLimit = &rateLimitJSON{Limit: rl.Limit, Remaining: rl.Remaining, WindowSeconds: int(rl.Window.Seconds())}
		}
		doc.Pulls = append(doc.Pulls, sj)
	}
	return doc
}

type changeJSON struct {
	Kind          Kind     `json:"kind"`
	Action        Action   `json:"action"`
	Source        string   `json:"source"`
	Target        string   `json:"target"`
	Digest        string   `json:"digest"`
	CurrentDigest string   `json:"current_digest"`
	MediaType     string   `json:"media_type,omitempty"`
	Platforms     []string `json:"platforms,omitempty"`
	Services      []string `json:"services,omitempty"`
	// Service is the first of Services, kept for readers of format 1
	// written before builds could be shared.
	Service       string `json:"service,omitempty"`
	Inputs        string `json:"inputs,omitempty"`
	CurrentInputs string `json:"current_inputs,omitempty"`
	// The platform choice and referrers, only for images that have them.
	PlatformMode      config.PlatformMode `json:"platform_mode,omitempty"`
	MirroredPlatforms []string            `json:"mirrored_platforms,omitempty"`
	TargetDigest      string              `json:"target_digest,omitempty"`
	Referrers         []referrerJSON      `json:"referrers,omitempty"`
	Shard             int                 `json:"shard,omitempty"`
	// Upstream is what the source's tag pointed at when the plan was
	// made; Tags and FallbackTags every tag apply writes for the change
	// (derived, checked when read back).
	Upstream     *upstreamJSON `json:"upstream,omitempty"`
	Tags         []string      `json:"tags,omitempty"`
	FallbackTags []string      `json:"fallback_tags,omitempty"`
}

type upstreamJSON struct {
	Digest  string `json:"digest,omitempty"`
	Unusual bool   `json:"unusual"`
	Error   string `json:"error,omitempty"`
}

type summaryJSON struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Build     int `json:"build"`
	Rebuild   int `json:"rebuild"`
	Unchanged int `json:"unchanged"`
	Referrers int `json:"referrers,omitempty"`
}

// EncodePlan writes a plan's JSON form, indented, with a trailing newline.
func EncodePlan(w io.Writer, p *Plan) error {
	doc := planJSON{FormatVersion: FormatVersion, LockSHA256: p.LockSHA256.String(), Changes: []changeJSON{},
		Summary: summaryJSON(p.Summary), Preflight: preflightDoc(p.Preflight), Shards: p.Shards,
		TargetRegistry: p.TargetRegistry, OtherHosts: otherHostTargets(p)}
	if nc := p.NotCompared; nc != nil {
		doc.TargetNotCompared = &notComparedJSON{Reason: nc.Reason, BaseLock: nc.BaseLock}
	}
	for _, c := range p.Changes {
		cj := changeJSON{Kind: c.Kind, Action: c.Action, Source: c.Source.String(), Target: c.Target.String(),
			Digest: c.Digest.String(), CurrentDigest: c.CurrentDigest.String(), MediaType: c.MediaType,
			Platforms: c.Platforms, Services: c.Services, Inputs: c.Inputs.String(), CurrentInputs: c.CurrentInputs,
			Shard: c.Shard}
		if len(c.Services) > 0 {
			cj.Service = c.Services[0]
		}
		encodeScope(&cj, c)
		encodeReview(&cj, c)
		doc.Changes = append(doc.Changes, cj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// DecodePlan reads a plan's JSON form, refusing other format versions and
// anything that cannot be what plan wrote. A plan file is untrusted input
// (a CI artifact passed from the plan job to the apply job): its size is
// bounded, the decoding strict (no unknown field, nothing after the
// document), every reference, digest and tag checked. What it may ask of
// apply is checked against images.lock apart, by CheckAgainstLock.
func DecodePlan(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPlanFile+1))
	if err != nil {
		return nil, fmt.Errorf("read the plan: %w", err)
	}
	if len(data) > maxPlanFile {
		return nil, fmt.Errorf("not a saved plan: larger than %d MiB", maxPlanFile>>20)
	}
	var doc planJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a saved plan: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("not a saved plan: more data after the plan's document")
	}
	if doc.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("format_version %q, this imagesync reads %q: run \"imagesync plan --out\" again", doc.FormatVersion, FormatVersion)
	}
	sum, err := digest.Parse(doc.LockSHA256)
	if err != nil {
		return nil, fmt.Errorf("lock_sha256: %w", err)
	}
	if doc.Shards < 0 || doc.Shards > maxShards {
		return nil, fmt.Errorf("shards: %d parts", doc.Shards)
	}
	p := &Plan{LockSHA256: sum, Summary: Summary(doc.Summary), Shards: doc.Shards, TargetRegistry: doc.TargetRegistry}
	if nc := doc.TargetNotCompared; nc != nil {
		p.NotCompared = &NotCompared{Reason: nc.Reason, BaseLock: nc.BaseLock}
	}
	for i, cj := range doc.Changes {
		c, err := cj.change()
		if err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		if (p.Shards == 0 && c.Shard != 0) || (p.Shards > 0 && (c.Shard < 1 || c.Shard > p.Shards)) {
			return nil, fmt.Errorf("change %d: shard %d of a plan split into %d parts", i, c.Shard, p.Shards)
		}
		p.Changes = append(p.Changes, c)
	}
	if p.Summary != summarize(p.Changes) {
		return nil, fmt.Errorf("its summary does not match its changes")
	}
	if !slices.Equal(doc.OtherHosts, otherHostTargets(p)) {
		return nil, fmt.Errorf("targets_outside_target_registry does not match its changes")
	}
	return p, nil
}

// change checks one change of a decoded plan and turns it into the model.
func (cj changeJSON) change() (Change, error) {
	switch cj.Action {
	case Create, Update, NoOp, Build, Rebuild, Referrers:
	default:
		return Change{}, fmt.Errorf("unknown action %q", cj.Action)
	}
	switch cj.Kind {
	case KindImage, KindBuild:
	default:
		return Change{}, fmt.Errorf("unknown kind %q", cj.Kind)
	}
	c := Change{Kind: cj.Kind, Action: cj.Action, MediaType: cj.MediaType, Platforms: cj.Platforms,
		Services: cj.Services, CurrentInputs: cj.CurrentInputs, Shard: cj.Shard}
	if len(c.Services) == 0 && cj.Service != "" {
		c.Services = []string{cj.Service}
	}
	var err error
	if c.Source, err = imageref.Parse(cj.Source); err != nil {
		return Change{}, fmt.Errorf("source: %w", err)
	}
	if c.Target, err = imageref.Parse(cj.Target); err != nil {
		return Change{}, fmt.Errorf("target: %w", err)
	}
	if err := cj.decodeScope(&c); err != nil {
		return Change{}, fmt.Errorf("%s: %w", c.Source, err)
	}
	for _, d := range []struct {
		into     *digest.Digest
		value    string
		required bool
	}{
		{&c.Digest, cj.Digest, c.Kind == KindImage},
		{&c.CurrentDigest, cj.CurrentDigest, false},
		{&c.Inputs, cj.Inputs, c.Kind == KindBuild},
	} {
		if d.value == "" && !d.required {
			continue
		}
		if *d.into, err = digest.Parse(d.value); err != nil {
			return Change{}, fmt.Errorf("%s: %w", c.Source, err)
		}
	}
	if err := cj.decodeReview(&c); err != nil {
		return Change{}, fmt.Errorf("%s: %w", c.Source, err)
	}
	return c, nil
}

// SavePlan writes a plan file atomically, next to where it goes.
func SavePlan(filename string, p *Plan) error {
	var b bytes.Buffer
	if err := EncodePlan(&b, p); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return atomicfile.Write(filename, b.Bytes())
}

// LoadPlan reads a plan saved by `imagesync plan --out`: a regular file,
// never a device or a pipe, read within DecodePlan's bound.
func LoadPlan(filename string) (*Plan, error) {
	f, err := os.Open(filename)
	if err != nil {
		return nil, fmt.Errorf("read saved plan: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		if err == nil {
			err = fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
		}
		return nil, fmt.Errorf("read saved plan %s: %w", filename, err)
	}
	p, err := DecodePlan(f)
	if err != nil {
		return nil, fmt.Errorf("read saved plan %s: %w", filename, err)
	}
	return p, nil
}

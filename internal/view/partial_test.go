package view

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/referrers"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/verify"
	"github.com/imagesync/imagesync/internal/workspace"
)

// chooser turns fuzz input into choices; past its end it chooses 0.
type chooser struct {
	data []byte
	i    int
}

func (c *chooser) pick(n int) int {
	if c.i >= len(c.data) || n <= 1 {
		return 0
	}
	c.i++
	return int(c.data[c.i-1]) % n
}

// text is a string of the views' inputs: empty, plain, or hostile.
func (c *chooser) text() string {
	return []string{"", "plain words", hostile}[c.pick(3)]
}

func (c *chooser) err() error {
	switch c.pick(4) {
	case 1:
		return errors.New(c.text())
	case 2:
		return fmt.Errorf("%w: %w", apply.ErrNotStarted, errors.New(hostile))
	case 3:
		return &registry.WaitTooLongError{Host: c.text(), Status: c.text()}
	}
	return nil
}

// partialPlan is base with fields left out or made up, as a plan read
// back from a file, a plan made by another version or a run cut short
// may have them: zero references, unknown actions, nil lists, hostile
// text from registries.
func partialPlan(c *chooser, base *diff.Plan) *diff.Plan {
	p := *base
	p.Changes = nil
	for _, ch := range base.Changes {
		if c.pick(5) == 0 {
			continue
		}
		switch c.pick(4) {
		case 1:
			ch.Source, ch.Target = imageref.Ref{}, imageref.Ref{}
		case 2:
			ch.Action, ch.Kind = diff.Action(c.text()), diff.Kind(c.text())
		case 3:
			ch.Services, ch.Platforms, ch.Sources, ch.MirroredPlatforms = nil, []string{c.text()}, []string{c.text()}, []string{c.text()}
		}
		switch c.pick(4) {
		case 1:
			ch.Upstream = &diff.Upstream{Err: c.text()}
		case 2:
			ch.Upstream = &diff.Upstream{Digest: dg(c.text())}
		case 3:
			ch.Referrers = append(ch.Referrers, referrers.Artifact{}, referrers.Artifact{Via: referrers.ViaTag, Tag: c.text(), Kind: referrers.Kind(c.text())})
		}
		ch.CurrentInputs = []string{ch.CurrentInputs, "", c.text()}[c.pick(3)]
		p.Changes = append(p.Changes, ch)
	}
	p.Summary = diff.Summary{Create: c.pick(3), Update: c.pick(3), Referrers: c.pick(2), Unchanged: c.pick(3)}
	p.TargetRegistry = []string{"", "reg.example.com/aim", c.text()}[c.pick(3)]
	if c.pick(2) == 1 {
		p.NotCompared = &diff.NotCompared{Reason: c.text(), BaseLock: c.text()}
	}
	switch c.pick(3) {
	case 1:
		p.Preflight = &diff.Preflight{}
	case 2:
		p.Preflight = &diff.Preflight{Checked: c.pick(2) == 1,
			Targets: []diff.TargetCheck{{Repository: c.text(), Status: diff.TargetStatus(c.text()), Detail: c.text(), Fix: c.text()},
				{Repository: "r", Status: diff.TargetMissing, Detail: hostile}, {Status: diff.TargetUnchecked}},
			Pulls: []diff.SourcePulls{{Registry: c.text(), Error: c.text()}, {Registry: "x", Pulls: 9, RateLimit: &registry.RateLimit{Remaining: c.pick(3)}}}}
	}
	p.Shards, p.Shard = c.pick(3), c.pick(3)
	return &p
}

// partialApply is what an apply of p may report: images failed, landed
// with failed referrers (no error of their own), not started, a run
// stopped.
func partialApply(c *chooser, p *diff.Plan) *workspace.ApplyResult {
	res := &workspace.ApplyResult{Unchanged: c.pick(3)}
	for _, ch := range p.Changes {
		r := apply.Result{Change: ch, Err: c.err(), BytesUploaded: int64(c.pick(5) << 20), Duration: time.Duration(c.pick(4)) * time.Second}
		for range c.pick(3) {
			r.ReferrerFailures = append(r.ReferrerFailures, apply.ReferrerFailure{Artifact: referrers.Artifact{Tag: c.text(), Via: referrers.ViaTag}, Err: c.err()})
		}
		res.Results = append(res.Results, r)
	}
	if c.pick(3) == 1 {
		res.Stopped = &registry.WaitTooLongError{Host: c.text(), Status: c.text()}
	}
	return res
}

// FuzzViews drives every view with partial results: none panics, none
// writes a control character or a line a CI runner takes for a command,
// and each annotation is one line. The seeds run as a regular test.
func FuzzViews(f *testing.F) {
	for _, seed := range []string{"", "\x01\x01\x01\x01\x01\x01", "\x02\x02\x02\x02\x02\x02\x02\x02", "\x03\x02\x01\x00\x03\x02\x01\x00\x01\x02\x03",
		strings.Repeat("\x01\x02", 64), strings.Repeat("\x02", 200), strings.Repeat("\x03\x01\x02", 100)} {
		f.Add([]byte(seed))
	}
	base := reviewPlan(f)
	l, _ := fixtureLock(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &chooser{data: data}
		p := partialPlan(c, base)
		res := partialApply(c, p)
		outputs := map[string]func(io.Writer) error{
			"plan":           func(w io.Writer) error { return WritePlan(w, p, c.pick(2) == 1) },
			"plan markdown":  func(w io.Writer) error { return WritePlanMarkdown(w, p, MarkdownOptions{MaxRows: c.pick(4)}) },
			"plan json":      func(w io.Writer) error { return WritePlanJSON(w, p) },
			"shard":          func(w io.Writer) error { return WriteShard(w, p) },
			"saved":          func(w io.Writer) error { return WriteApplyingSavedPlan(w, c.text(), p) },
			"apply":          func(w io.Writer) error { return WriteApplySummary(w, res) },
			"apply markdown": func(w io.Writer) error { return WriteApplyMarkdown(w, res, MarkdownOptions{}) },
			"apply json":     func(w io.Writer) error { return WriteApplyJSON(w, res) },
			"progress": func(w io.Writer) error {
				lp := NewLineProgress(w)
				for _, r := range res.Results {
					lp.Started(r.Change)
					lp.Finished(r)
				}
				return nil
			},
			"verify": func(w io.Writer) error {
				rep := &verify.Report{Images: c.pick(3), Problems: []verify.Problem{{Detail: c.text()}, {Source: imageref.MustParse("a:1"), Detail: hostile}}}
				if err := WriteVerify(w, rep, c.text()); err != nil {
					return err
				}
				return WriteVerifyMarkdown(w, rep, MarkdownOptions{})
			},
			"lock online": func(w io.Writer) error {
				found := []diff.LockedUpstream{{Upstream: diff.Upstream{Err: c.text()}}, {Locked: dg("a"), Upstream: diff.Upstream{Digest: dg(c.text())}}}
				if err := WriteLockUpstream(w, &lock.Lock{}, found); err != nil {
					return err
				}
				return WriteLockCheckMarkdown(w, LockCheck{Lock: l, Online: true, Upstream: found}, MarkdownOptions{})
			},
			"error": func(w io.Writer) error { WriteError(w, errors.New(c.text())); return nil },
		}
		for name, write := range outputs {
			var buf bytes.Buffer
			if err := write(&buf); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			checkTerminal(t, name, buf.String())
		}
		as := append(FailedImageAnnotations(res, nil, c.text()), PreflightAnnotations(p, nil, "images.lock")...)
		var buf bytes.Buffer
		if err := WriteAnnotations(&buf, as); err != nil {
			t.Fatal(err)
		}
		if lines := strings.Count(buf.String(), "\n"); lines != len(as) {
			t.Errorf("%d annotations written on %d lines:\n%s", len(as), lines, buf.String())
		}
		for line := range strings.Lines(buf.String()) {
			if !strings.HasPrefix(line, "::error ") && !strings.HasPrefix(line, "::warning ") {
				t.Errorf("an annotation line that is not one: %q", line)
			}
		}
	})
}

package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imagesync/imagesync/bench/benchset"
	"github.com/imagesync/imagesync/internal/fakeupstream"
)

// Scenario names, as in the report.
const (
	scCold      = "cold"
	scNoop      = "no-op"
	scChanged   = "one changed"
	scBig       = "big layer"
	scScaleNoop = "scale: no-op"
	scScaleCold = "scale: cold copy"
	scLock      = "lock"
)

func (b *bench) run(ctx context.Context) error {
	cold, err := b.scenarioCold(ctx)
	if err != nil {
		return fmt.Errorf("cold: %w", err)
	}
	if b.only["changed"] || b.only["noop"] {
		if cold == nil {
			return fmt.Errorf("the no-op and one-changed scenarios need the cold one")
		}
	}
	if b.only["noop"] {
		if err := b.scenarioNoop(ctx, cold); err != nil {
			return fmt.Errorf("no-op: %w", err)
		}
	}
	if b.only["changed"] {
		if err := b.scenarioChanged(ctx, cold); err != nil {
			return fmt.Errorf("one changed: %w", err)
		}
	}
	if b.only["big"] {
		if err := b.scenarioBig(ctx); err != nil {
			return fmt.Errorf("big layer: %w", err)
		}
	}
	if b.only["scale"] {
		if err := b.scenarioScale(ctx); err != nil {
			return fmt.Errorf("scale: %w", err)
		}
	}
	if b.only["shard"] {
		if err := b.scenarioShard(ctx); err != nil {
			return fmt.Errorf("shard: %w", err)
		}
	}
	return nil
}

// rounds runs every job once per round, rotating their order so that no
// tool always runs first (on a cold cache) or last. reset, if set, runs
// before every job; want, if set, is checked after it.
func (b *bench) runRounds(ctx context.Context, scenario string, jobs []job, reset func() error, want map[string]string) error {
	if len(b.tools) > 0 {
		var kept []job
		for _, j := range jobs {
			for _, t := range b.tools {
				if strings.Contains(j.tool, t) {
					kept = append(kept, j)
					break
				}
			}
		}
		jobs = kept
	}
	if len(jobs) == 0 {
		return nil
	}
	for r := range b.rounds {
		for i := range jobs {
			j := jobs[(i+r)%len(jobs)]
			if reset != nil {
				if err := reset(); err != nil {
					return err
				}
			}
			if err := b.measure(ctx, scenario, r+1, j, want); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// measure runs j once and records the measurement.
func (b *bench) measure(ctx context.Context, scenario string, round int, j job, want map[string]string) error {
	mk, err := b.mark()
	if err != nil {
		return err
	}
	pm := b.markProxies()
	m := b.runJob(ctx, scenario, round, j)
	if err := b.account(&m, mk); err != nil {
		return err
	}
	if b.chains != nil {
		st := b.chains.chains(b.exchanges(pm))
		m.ChainMedian, m.ChainMax, m.Unattributed = st.median, st.max, st.unattributed
	}
	if want != nil && !j.noVerify {
		b.verify(ctx, &m, want)
	}
	b.results = append(b.results, m)
	status := "ok"
	if m.Failed > 0 || m.VerifiedOK < m.VerifiedTotal {
		status = fmt.Sprintf("FAILED %d/%d processes, %d/%d images verified: %.300s", m.Failed, m.Processes, m.VerifiedOK, m.VerifiedTotal, m.Error)
	}
	log.Printf("%-16s r%d %-30s %7.2fs cpu %5.2fs +reg %5.2fs rss %5.1f MiB up %7.1f MiB req src %5d dst %5d chain %d/%d  %s",
		scenario, round, j.tool, m.Wall.Seconds(), m.CPU.Seconds(), (m.SrcCPU + m.DstCPU).Seconds(), float64(m.MaxRSS)/1024,
		float64(m.UploadBytes)/(1<<20), m.SrcRequests, m.DstRequests, m.ChainMedian, m.ChainMax, status)
	return nil
}

func (b *bench) fact(scenario, name, format string, args ...any) {
	b.facts = append(b.facts, fact{Scenario: scenario, Name: name, Value: fmt.Sprintf(format, args...)})
	log.Printf("%s: %s: %s", scenario, name, fmt.Sprintf(format, args...))
}

// coldState is the cold scenario's outcome the later ones start from.
type coldState struct {
	ws       *workspace
	snapshot string // target storage holding the whole set
	gen0     map[string]bool
}

func (b *bench) coldImages() []fakeupstream.Image {
	imgs := benchset.Cold()
	for i := range imgs {
		imgs[i].LayerSize /= b.sizeDiv
	}
	return imgs
}

func (b *bench) scenarioCold(ctx context.Context) (*coldState, error) {
	if !b.only["cold"] && !b.only["noop"] && !b.only["changed"] {
		return nil, nil
	}
	imgs := b.coldImages()
	start := time.Now()
	if err := benchset.Push(ctx, b.inv, imgs, b.seedHosts(), 4); err != nil {
		return nil, err
	}
	refs := benchset.SortedRefs(imgs)
	b.fact(scCold, "set", "%d images, %d unique blobs, %s of unique blobs (generated and pushed in %.1fs)",
		len(imgs), len(b.inv.UniqueBlobs(refs)), mibs(b.inv.UniqueBytes(refs)), time.Since(start).Seconds())
	b.facts = append(b.facts, fact{Scenario: scCold, Name: "unique_bytes", Value: fmt.Sprint(b.inv.UniqueBytes(refs))})
	ws, err := b.newWorkspace(ctx, "cold", imgs)
	if err != nil {
		return nil, err
	}
	st := &coldState{ws: ws, snapshot: filepath.Join(b.work, "snapshot-cold"), gen0: map[string]bool{}}
	for _, ref := range refs {
		for _, bl := range b.inv.Image(ref).Blobs {
			st.gen0[bl.Digest] = true
		}
	}
	// A first, untimed copy warms the page cache and leaves the full
	// target the no-op and one-changed scenarios start from.
	if err := b.resetTarget(ctx, ""); err != nil {
		return nil, err
	}
	if err := b.measure(ctx, "warm-up", 0, b.imagesyncApply(ws, 0), ws.want); err != nil {
		return nil, err
	}
	if err := b.snapshot(ctx, st.snapshot); err != nil {
		return nil, err
	}
	if !b.only["cold"] {
		return st, nil
	}
	jobs := append([]job{b.imagesyncApply(ws, 0)}, b.altApply(ws, 0)...)
	for _, p := range []int{0, 4} {
		j, err := b.regsyncJob(ws, "once", p)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	jobs = append(jobs, b.craneJob(ws, 1), b.craneJob(ws, 4))
	jobs = append(jobs, b.skopeoJobs(ws, "cold")...)
	floor, err := b.floorJob("cold", refs, 8)
	if err != nil {
		return nil, err
	}
	jobs = append(jobs, floor)
	if b.variants {
		// For diagnosis: how much concurrency buys on this machine.
		floor4, err := b.floorJob("cold", refs, 4)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, b.imagesyncApply(ws, 8), b.imagesyncApply(ws, 16), floor4)
	}
	b.chains = b.attributorFor(ws)
	defer func() { b.chains = nil }()
	return st, b.runRounds(ctx, scCold, jobs, func() error { return b.resetTarget(ctx, "") }, ws.want)
}

func (b *bench) scenarioNoop(ctx context.Context, st *coldState) error {
	if err := b.resetTarget(ctx, st.snapshot); err != nil {
		return err
	}
	ws := st.ws
	jobs := append([]job{b.imagesyncPlan(ws), b.imagesyncApply(ws, 0)}, b.altPlan(ws)...)
	jobs = append(jobs, b.altApply(ws, 0)...)
	for _, a := range []struct {
		action string
		p      int
	}{{"check", 0}, {"check", 4}, {"once", 4}} {
		j, err := b.regsyncJob(ws, a.action, a.p)
		if err != nil {
			return err
		}
		jobs = append(jobs, j)
	}
	jobs = append(jobs, b.craneJob(ws, 1), b.craneJob(ws, 4))
	jobs = append(jobs, b.skopeoJobs(ws, "noop")...)
	b.chains = b.attributorFor(ws)
	defer func() { b.chains = nil }()
	return b.runRounds(ctx, scNoop, jobs, nil, ws.want)
}

func (b *bench) scenarioChanged(ctx context.Context, st *coldState) error {
	moved := benchset.Changed()
	moved.LayerSize /= b.sizeDiv
	if err := benchset.Push(ctx, b.inv, []fakeupstream.Image{moved}, b.seedHosts(), 1); err != nil {
		return err
	}
	var newBytes int64
	var newBlobs int
	for _, bl := range b.inv.Image(moved.Ref).Blobs {
		if !st.gen0[bl.Digest] {
			st.gen0[bl.Digest] = true // count a blob shared by two platforms once
			newBytes += bl.Size
			newBlobs++
		}
	}
	var manifestBytes int64
	for _, m := range b.inv.Image(moved.Ref).Manifests {
		manifestBytes += m.Size
	}
	b.fact(scChanged, "expected upload", "%d new blobs of %s, %s (+ %d manifests, %d bytes)",
		newBlobs, moved.Ref, mibs(newBytes), len(b.inv.Image(moved.Ref).Manifests), manifestBytes)
	b.facts = append(b.facts, fact{Scenario: scChanged, Name: "expected_bytes", Value: fmt.Sprint(newBytes)})

	// The workspace of the cold scenario, with the moved tag re-locked.
	ws := *st.ws
	ws.name, ws.dir = "changed", filepath.Join(b.work, "ws-changed")
	if err := os.MkdirAll(ws.dir, 0o755); err != nil {
		return err
	}
	for _, f := range []string{"images.hcl", "images.lock"} {
		data, err := os.ReadFile(filepath.Join(st.ws.dir, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(ws.dir, f), data, 0o644); err != nil {
			return err
		}
	}
	m := b.runJob(ctx, "setup", 0, job{tool: "imagesync lock --upgrade", cmds: []command{b.imagesyncCmd(&ws, "lock", "--upgrade", moved.Ref)}})
	if m.Failed > 0 {
		return fmt.Errorf("lock --upgrade: %s", m.Error)
	}
	b.fact(scChanged, "imagesync lock --upgrade "+moved.Ref, "%.2fs", m.Wall.Seconds())
	if err := ws.load(b); err != nil {
		return err
	}
	jobs := append([]job{b.imagesyncApply(&ws, 0)}, b.altApply(&ws, 0)...)
	for _, p := range []int{0, 4} {
		j, err := b.regsyncJob(&ws, "once", p)
		if err != nil {
			return err
		}
		jobs = append(jobs, j)
	}
	jobs = append(jobs, b.craneJob(&ws, 1), b.craneJob(&ws, 4))
	jobs = append(jobs, b.skopeoJobs(&ws, "changed")...)
	b.chains = b.attributorFor(&ws)
	defer func() { b.chains = nil }()
	return b.runRounds(ctx, scChanged, jobs, func() error { return b.resetTarget(ctx, st.snapshot) }, ws.want)
}

func (b *bench) scenarioBig(ctx context.Context) error {
	imgs := benchset.Big()
	imgs[0].LayerSize = b.bigSize
	start := time.Now()
	if err := benchset.Push(ctx, b.inv, imgs, b.seedHosts(), 1); err != nil {
		return err
	}
	refs := benchset.SortedRefs(imgs)
	b.fact(scBig, "set", "1 image, own layer %s (generated and pushed in %.1fs)", mibs(b.bigSize), time.Since(start).Seconds())
	ws, err := b.newWorkspace(ctx, "big", imgs)
	if err != nil {
		return err
	}
	j, err := b.regsyncJob(ws, "once", 0)
	if err != nil {
		return err
	}
	floor, err := b.floorJob("big", refs, 8)
	if err != nil {
		return err
	}
	jobs := append([]job{b.imagesyncApply(ws, 0)}, b.altApply(ws, 0)...)
	jobs = append(jobs, j, b.craneJob(ws, 1))
	jobs = append(jobs, b.skopeoJobs(ws, "big")...)
	jobs = append(jobs, floor)
	return b.runRounds(ctx, scBig, jobs, func() error { return b.resetTarget(ctx, "") }, ws.want)
}

func (b *bench) scenarioScale(ctx context.Context) error {
	imgs := benchset.Scale(b.scaleN)
	start := time.Now()
	if err := benchset.Push(ctx, b.inv, imgs, b.seedHosts(), 4); err != nil {
		return err
	}
	b.fact(scScaleNoop, "set", "%d images in %d repositories, 2 platforms each (generated and pushed in %.1fs)",
		len(imgs), len(imgs)/2, time.Since(start).Seconds())
	ws, err := b.newWorkspace(ctx, "scale", imgs)
	if err != nil {
		return err
	}

	// lock from scratch, and lock --check.
	lockPath := filepath.Join(ws.dir, "images.lock")
	saved, err := os.ReadFile(lockPath)
	if err != nil {
		return err
	}
	fresh := b.imagesyncCmd(ws, "lock")
	lockJobs := []job{
		{tool: "imagesync lock (from scratch)", cmds: []command{fresh}, before: func() error { return os.Remove(lockPath) }},
		{tool: "imagesync lock --check", cmds: []command{b.imagesyncCmd(ws, "lock", "--check")},
			before: func() error { return os.WriteFile(lockPath, saved, 0o644) }},
	}
	if err := b.runRounds(ctx, scLock, lockJobs, nil, nil); err != nil {
		return err
	}
	if err := os.WriteFile(lockPath, saved, 0o644); err != nil {
		return err
	}

	// Fill the target once (timed, for the record), then the no-op rounds.
	if err := b.resetTarget(ctx, ""); err != nil {
		return err
	}
	if err := b.measure(ctx, "scale: fill", 1, b.imagesyncApply(ws, 0), ws.want); err != nil {
		return err
	}
	jobs := append([]job{b.imagesyncPlan(ws), b.imagesyncApply(ws, 0)}, b.altPlan(ws)...)
	jobs = append(jobs, b.altApply(ws, 0)...)
	for _, p := range []int{0, 4} {
		j, err := b.regsyncJob(ws, "check", p)
		if err != nil {
			return err
		}
		jobs = append(jobs, j)
	}
	b.chains = b.attributorFor(ws)
	defer func() { b.chains = nil }()
	if err := b.runRounds(ctx, scScaleNoop, jobs, nil, ws.want); err != nil {
		return err
	}

	// The cold copy of the first scaleCold images, by --parallelism.
	sub, err := b.newWorkspace(ctx, "scale-cold", imgs[:b.scaleCold])
	if err != nil {
		return err
	}
	jobs = nil
	for _, p := range []int{1, 2, 4, 8, 16} {
		jobs = append(jobs, b.imagesyncApply(sub, p))
	}
	j, err := b.regsyncJob(sub, "once", 4)
	if err != nil {
		return err
	}
	jobs = append(jobs, b.altApply(sub, 4)...)
	jobs = append(jobs, j, b.craneJob(sub, 4))
	// Each run takes a while; three rounds are enough to see the trend.
	allRounds := b.rounds
	b.rounds = min(b.rounds, 3)
	defer func() { b.rounds = allRounds }()
	b.chains = b.attributorFor(sub)
	return b.runRounds(ctx, scScaleCold, jobs, func() error { return b.resetTarget(ctx, "") }, sub.want)
}

func mibs(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

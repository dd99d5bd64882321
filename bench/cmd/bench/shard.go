package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/imagesync/imagesync/bench/benchset"
)

// scShard is the sharded cold copy: the scale scenario's cold subset
// applied from one saved plan by 1, 2 and 4 runners at once, each taking
// its part (apply --shard K/N), as a CI matrix does.
const scShard = "scale: sharded cold copy"

// shardCounts are the runner counts the scenario compares.
var shardCounts = []int{1, 2, 4}

func (b *bench) scenarioShard(ctx context.Context) error {
	imgs := benchset.Scale(b.scaleN)[:b.scaleCold]
	missing := imgs[:0:0]
	for _, img := range imgs {
		if b.inv.Image(img.Ref) == nil {
			missing = append(missing, img)
		}
	}
	start := time.Now()
	if err := benchset.Push(ctx, b.inv, missing, b.seedHosts(), 4); err != nil {
		return err
	}
	b.fact(scShard, "set", "%d images in %d repositories, 2 platforms each (%d generated and pushed in %.1fs)",
		len(imgs), len(imgs)/2, len(missing), time.Since(start).Seconds())
	ws, err := b.newWorkspace(ctx, "scale-shard", imgs)
	if err != nil {
		return err
	}
	var jobs []job
	for _, n := range shardCounts {
		jobs = append(jobs, b.shardJob(ws, n))
	}
	allRounds := b.rounds
	b.rounds = min(b.rounds, 3)
	defer func() { b.rounds = allRounds }()
	return b.runRounds(ctx, scShard, jobs, func() error { return b.resetTarget(ctx, "") }, ws.want)
}

// shardJob is n processes `imagesync apply --shard k/n -q plan.json` at
// once on a plan saved (untimed) against the empty target just before.
func (b *bench) shardJob(ws *workspace, n int) job {
	j := job{tool: shardTool(n), parallel: n}
	for k := 1; k <= n; k++ {
		j.cmds = append(j.cmds, b.imagesyncCmd(ws, "apply", "--shard", fmt.Sprintf("%d/%d", k, n), "-q", "plan.json"))
	}
	j.before = func() error {
		m := b.runJob(context.Background(), "setup", 0, job{tool: "imagesync plan --out", cmds: []command{b.imagesyncCmd(ws, "plan", "--out", "plan.json")}})
		if m.Failed > 0 {
			return fmt.Errorf("plan --out: %s", m.Error)
		}
		return nil
	}
	return j
}

// shardTool names the job of n runners.
func shardTool(n int) string { return fmt.Sprintf("imagesync apply --shard K/%d (%d at once)", n, n) }

// shardTarget is the report's line on the sharded cold copy: the median
// of each runner count and the best speed-up over one runner.
func (b *bench) shardTarget() (target, bool) {
	st := b.stats(scShard)
	one, ok := find(st, shardTool(1))
	if !ok {
		return target{}, false
	}
	var parts []string
	best := one
	for _, n := range shardCounts {
		s, ok := find(st, shardTool(n))
		if !ok {
			continue
		}
		parts = append(parts, fmt.Sprintf("%d runner(s) %ss", n, secs(s.median)))
		if s.median < best.median && s.ok() {
			best = s
		}
	}
	return target{scShard, "report the sharded cold copy (1, 2, 4 runners)",
		strings.Join(parts, ", ") + fmt.Sprintf("; best %.1f× one runner", one.median.Seconds()/best.median.Seconds()), "reported"}, true
}

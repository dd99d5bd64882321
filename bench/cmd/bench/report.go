package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/imagesync/imagesync/bench/benchset"
)

const (
	analysisBegin = "<!-- analysis:begin (kept when the benchmark rewrites this file) -->"
	analysisEnd   = "<!-- analysis:end -->"
)

// stat summarizes the rounds of one tool in one scenario.
type stat struct {
	tool                   string
	n                      int
	median, min, max       time.Duration
	cpu                    time.Duration // median
	regCPU                 time.Duration // median, both registries
	rssMax                 int64         // KiB
	upload                 int64         // median
	uploads, mounts, puts  int           // median
	src, dst               int           // median
	srcMax, dstMax         int
	verifiedOK, verifiedOf int            // summed over rounds
	failed                 int            // runs with a failed process or an unverified image
	byKind                 map[string]int // target, first round
	srcByKind              map[string]int // source, first round
	chainMedian, chainMax  int            // medians over rounds (WAN)
	errors                 []string
}

func (s stat) ok() bool { return s.failed == 0 }

func medianInt[T int | int64](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianDur(v []time.Duration) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// stats groups the measurements of a scenario by tool, in first-run order.
func (b *bench) stats(scenario string) []stat {
	var order []string
	by := map[string][]measurement{}
	for _, m := range b.results {
		if m.Scenario != scenario {
			continue
		}
		if _, ok := by[m.Tool]; !ok {
			order = append(order, m.Tool)
		}
		by[m.Tool] = append(by[m.Tool], m)
	}
	var out []stat
	for _, tool := range order {
		ms := by[tool]
		s := stat{tool: tool, n: len(ms), min: ms[0].Wall, max: ms[0].Wall, byKind: ms[0].DstByKind, srcByKind: ms[0].SrcByKind}
		var walls, cpus, regs []time.Duration
		var up []int64
		var uploads, mounts, puts, src, dst, chainMed, chainMax []int
		for _, m := range ms {
			chainMed, chainMax = append(chainMed, m.ChainMedian), append(chainMax, m.ChainMax)
			walls = append(walls, m.Wall)
			cpus = append(cpus, m.CPU)
			regs = append(regs, m.SrcCPU+m.DstCPU)
			s.min, s.max = min(s.min, m.Wall), max(s.max, m.Wall)
			s.rssMax = max(s.rssMax, m.MaxRSS)
			up = append(up, m.UploadBytes)
			uploads, mounts, puts = append(uploads, m.BlobUploads), append(mounts, m.Mounts), append(puts, m.ManifestPuts)
			src, dst = append(src, m.SrcRequests), append(dst, m.DstRequests)
			s.srcMax, s.dstMax = max(s.srcMax, m.SrcRequests), max(s.dstMax, m.DstRequests)
			s.verifiedOK += m.VerifiedOK
			s.verifiedOf += m.VerifiedTotal
			if m.Failed > 0 || m.VerifiedOK < m.VerifiedTotal {
				s.failed++
				if m.Error != "" && len(s.errors) < 2 {
					s.errors = append(s.errors, m.Error)
				}
			}
		}
		s.median = medianDur(walls)
		s.cpu = medianDur(cpus)
		s.regCPU = medianDur(regs)
		s.upload = medianInt(up)
		s.uploads, s.mounts, s.puts = medianInt(uploads), medianInt(mounts), medianInt(puts)
		s.src, s.dst = medianInt(src), medianInt(dst)
		s.chainMedian, s.chainMax = medianInt(chainMed), medianInt(chainMax)
		out = append(out, s)
	}
	return out
}

func find(stats []stat, tool string) (stat, bool) {
	for _, s := range stats {
		if s.tool == tool {
			return s, true
		}
	}
	return stat{}, false
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func mib(kib int64) string { return fmt.Sprintf("%.0f", float64(kib)/1024) }

func mibBytes(n int64) string {
	if n == 0 {
		return "0"
	}
	if n < 1<<20 {
		return fmt.Sprintf("%.2f", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f", float64(n)/(1<<20))
}

// table writes one scenario's table; ref is the imagesync job the ratio
// column compares every tool with.
func table(sb *strings.Builder, stats []stat, ref string) {
	r, hasRef := find(stats, ref)
	sb.WriteString("| tool | median s | min–max s | " + ratioHeader(ref, hasRef) + " | CPU s | registries' CPU s | peak RSS MiB | uploaded MiB | blobs uploaded / mounted | manifest PUTs | source requests | target requests | images verified |\n")
	sb.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, s := range stats {
		ratio := "–"
		if hasRef && s.median > 0 {
			ratio = fmt.Sprintf("%.2f", r.median.Seconds()/s.median.Seconds())
		}
		verified := fmt.Sprintf("%d/%d", s.verifiedOK, s.verifiedOf)
		if s.verifiedOf == 0 {
			verified = "–"
		}
		if s.failed > 0 {
			verified += fmt.Sprintf(" (%d of %d runs failed)", s.failed, s.n)
		}
		fmt.Fprintf(sb, "| %s | %s | %s–%s | %s | %s | %s | %s | %s | %d / %d | %d | %s | %s | %s |\n",
			s.tool, secs(s.median), secs(s.min), secs(s.max), ratio, secs(s.cpu), secs(s.regCPU), mib(s.rssMax), mibBytes(s.upload),
			s.uploads, s.mounts, s.puts, span(s.src, s.srcMax), span(s.dst, s.dstMax), verified)
	}
	for _, s := range stats {
		for _, e := range s.errors {
			fmt.Fprintf(sb, "\n%s failed: `%.400s`\n", s.tool, strings.ReplaceAll(e, "`", "'"))
		}
	}
}

func ratioHeader(ref string, ok bool) string {
	if !ok {
		return "ratio"
	}
	return ref + " ÷ tool"
}

// span is a median, with the maximum when the rounds differ.
func span(median, maxV int) string {
	if median == maxV {
		return strconv.Itoa(median)
	}
	return fmt.Sprintf("%d (max %d)", median, maxV)
}

func (b *bench) factsOf(scenario string) []fact {
	var out []fact
	for _, f := range b.facts {
		if f.Scenario == scenario && !strings.Contains(f.Name, "_") {
			out = append(out, f)
		}
	}
	return out
}

func (b *bench) factValue(scenario, name string) string {
	for _, f := range b.facts {
		if f.Scenario == scenario && f.Name == name {
			return f.Value
		}
	}
	return ""
}

// target is one line of the targets table.
type target struct{ scenario, goal, measured, verdict string }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// imagesyncs names this build and every -alt build as they appear in
// tool names: "imagesync", "imagesync (proposed)".
func (b *bench) imagesyncs() []string {
	out := []string{"imagesync"}
	for _, a := range b.meta.Alts {
		out = append(out, "imagesync ("+a.Name+")")
	}
	return out
}

func (b *bench) targets() []target {
	var out []target
	out = append(out, b.coldTargets()...)
	out = append(out, b.noopTargets()...)
	out = append(out, b.otherTargets()...)
	out = append(out, b.baselineTargets()...)
	return append(out, b.lockTargets()...)
}

func (b *bench) coldTargets() []target {
	var out []target
	if st := b.stats(scCold); len(st) > 0 {
		best := bestPeer(st)
		fl, hasFloor := find(st, "floor")
		for _, who := range b.imagesyncs() {
			is, ok := find(st, who+" apply")
			if !ok {
				continue
			}
			if best.tool != "" {
				r := is.median.Seconds() / best.median.Seconds()
				out = append(out, target{scCold, who + ": median ≤ 0.8 × best peer",
					fmt.Sprintf("%ss vs %s %ss = %.2f×", secs(is.median), best.tool, secs(best.median), r), verdict(r <= 0.8 && is.ok())})
			}
			if hasFloor {
				r := is.median.Seconds() / fl.median.Seconds()
				out = append(out, target{scCold, who + ": median ≤ 1.15 × floor",
					fmt.Sprintf("%ss vs floor %ss = %.2f×", secs(is.median), secs(fl.median), r), verdict(r <= 1.15 && is.ok())})
			}
		}
	}
	return out
}

func (b *bench) noopTargets() []target {
	var out []target
	if st := b.stats(scNoop); len(st) > 0 {
		images := 0
		for _, m := range b.results {
			if m.Scenario == scNoop {
				images = m.VerifiedTotal
				break
			}
		}
		check := stat{}
		for _, s := range st {
			if strings.HasPrefix(s.tool, "regsync check") && (check.tool == "" || s.median < check.median) {
				check = s
			}
		}
		for _, who := range b.imagesyncs() {
			for _, tool := range []string{who + " plan", who + " apply"} {
				s, ok := find(st, tool)
				if !ok {
					continue
				}
				out = append(out, target{scNoop, tool + ": no request to any source", fmt.Sprintf("%d (max over rounds)", s.srcMax), verdict(s.srcMax == 0)})
				out = append(out, target{scNoop, tool + ": ≤ 1 target request per image",
					fmt.Sprintf("%d requests for %d images (max over rounds; first round: %s)", s.dstMax, images, kinds(s.byKind)), verdict(s.dstMax <= images)})
				if check.tool != "" {
					out = append(out, target{scNoop, tool + ": faster than regsync check",
						fmt.Sprintf("%ss vs %s %ss", secs(s.median), check.tool, secs(check.median)), verdict(s.median < check.median)})
				}
			}
		}
	}
	return out
}

func (b *bench) otherTargets() []target {
	var out []target
	if st := b.stats(scChanged); len(st) > 0 {
		want, _ := strconv.ParseInt(b.factValue(scChanged, "expected_bytes"), 10, 64)
		for _, who := range b.imagesyncs() {
			s, ok := find(st, who+" apply")
			if !ok {
				continue
			}
			var maxUp int64
			for _, m := range b.results {
				if m.Scenario == scChanged && m.Tool == s.tool {
					maxUp = max(maxUp, m.UploadBytes)
				}
			}
			out = append(out, target{scChanged, who + ": uploads only the moved image's new blobs",
				fmt.Sprintf("%d bytes uploaded (max over rounds), %d expected; %d blobs uploaded, %d mounted, %d target requests",
					maxUp, want, s.uploads, s.mounts, s.dst), verdict(maxUp <= want && s.ok())})
		}
	}
	if st := b.stats(scBig); len(st) > 0 {
		for _, who := range b.imagesyncs() {
			if s, ok := find(st, who+" apply"); ok {
				out = append(out, target{scBig, who + ": peak RSS < 64 MiB", mib(s.rssMax) + " MiB (max over rounds)", verdict(s.rssMax < 64*1024 && s.ok())})
			}
		}
	}
	if st := b.stats(scScaleNoop); len(st) > 0 {
		for _, who := range b.imagesyncs() {
			if s, ok := find(st, who+" plan"); ok {
				out = append(out, target{scScaleNoop, who + " plan < 2 s", fmt.Sprintf("median %ss, max %ss", secs(s.median), secs(s.max)), verdict(s.max < 2*time.Second && s.ok())})
			}
		}
	}
	if st := b.stats(scScaleCold); len(st) > 0 {
		var parts []string
		p1, ok1 := find(st, "imagesync apply -p1")
		best := p1
		for _, s := range st {
			if strings.HasPrefix(s.tool, "imagesync apply -p") {
				parts = append(parts, fmt.Sprintf("%s %ss", strings.TrimPrefix(s.tool, "imagesync apply "), secs(s.median)))
				if s.median < best.median {
					best = s
				}
			}
		}
		if ok1 {
			sp := p1.median.Seconds() / best.median.Seconds()
			out = append(out, target{scScaleCold, "scales with --parallelism",
				strings.Join(parts, ", ") + fmt.Sprintf("; best %.1f× faster than -p1", sp), verdict(sp >= 1.5)})
		}
	}
	if t, ok := b.shardTarget(); ok {
		out = append(out, t)
	}
	return out
}

func (b *bench) lockTargets() []target {
	var out []target
	if st := b.stats(scLock); len(st) > 0 {
		for _, s := range st {
			m := fmt.Sprintf("median %ss (%s–%s), %d source / %d target requests", secs(s.median), secs(s.min), secs(s.max), s.srcMax, s.dstMax)
			if strings.Contains(s.tool, "--check") {
				out = append(out, target{scLock, "lock --check: no network I/O", m, verdict(s.srcMax == 0 && s.dstMax == 0 && s.ok())})
			} else {
				out = append(out, target{scLock, s.tool + ": report the time", m, "reported"})
			}
		}
	}
	return out
}

func kinds(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (b *bench) writeReport(path, rerun string) error {
	if b.meta.WAN != "" {
		return b.writeWANReport(path)
	}
	var sb strings.Builder
	sb.WriteString("# Benchmarks\n\n")
	sb.WriteString("imagesync against the copiers teams would otherwise run in CI — [regsync](https://github.com/regclient/regclient) `v0.11.7`, " +
		"[crane](https://github.com/google/go-containerregistry) `v0.22.1`, skopeo from Debian — and against a *floor*: " +
		"a helper (`bench/cmd/floor`) that streams every unique blob once from source to target, 8 at a time, one GET and one " +
		"monolithic PUT per blob, no manifests, no checks. No copier that leaves a usable image behind can go under it.\n\n")
	fmt.Fprintf(&sb, "Rerun (about 20 minutes; it installs crane and regsync with `go install` under `~/.cache/imagesync-bench`, and skopeo with apt-get if missing):\n\n```sh\n%s\n```\n\n", rerun)
	sb.WriteString("`bench/run.sh --wan 150ms,200` runs the tools against registries made far away by a proxy of ours and writes [its own section](#far-registries-wan-mode), kept by the loopback run. " +
		"`bench/run.sh -alt before=BINARY` times another imagesync build in the same rounds (here: the build this branch started from). ")
	sb.WriteString("`bench/run.sh --quick` is a two-minute smoke test with small images. Nothing in `go test` depends on these timings; " +
		"the Go benchmarks of the hot paths are `go test -run XXX -bench . ./internal/discover ./internal/lock ./internal/view`.\n\n")

	b.writeRunFacts(&sb)

	sb.WriteString("## Targets\n\n| scenario | target | measured | |\n|---|---|---|---|\n")
	for _, t := range b.targets() {
		fmt.Fprintf(&sb, "| %s | %s | %s | %s |\n", t.scenario, t.goal, t.measured, t.verdict)
	}
	sb.WriteString("\n")

	sections := []struct{ scenario, ref, what string }{
		{scCold, "imagesync apply", "The seed's 15 third-party images (2 platforms each where upstream has them; alpine has 3, the two osixia images are single Docker manifests), own layers scaled to about 430 MiB, sharing the alpine, debian and ubi base layers, into an empty target."},
		{scNoop, "imagesync apply", "The target already holds every image (restored from the cold copy). imagesync: `plan` and `apply`; regsync: `check` and `once`; crane and skopeo copy again."},
		{scChanged, "imagesync apply", "Upstream moved `" + benchset.ChangedRef + "` to a new image on the same alpine base (new own layers and configs); the lock was upgraded for imagesync (`lock --upgrade`, untimed); every run starts from the cold copy's target."},
		{scBig, "imagesync apply", "One single-platform image whose own layer is 1 GiB, into an empty target. The figure that matters is peak RSS."},
		{scScaleNoop, "imagesync plan", "Many small images (4 KiB own layers, 2 platforms, 2 tags per repository), all already in the target."},
		{scScaleCold, "imagesync apply -p4", "The cold copy of a subset of the small images into an empty target, by `--parallelism` (at most 3 rounds: each run takes a while)."},
		{scShard, shardTool(1), "The same cold copy from one saved plan (`plan --out`, untimed) by 1, 2 and 4 `imagesync apply --shard K/N` processes at once, each taking the images of its target repositories, as the jobs of a CI matrix would; on one machine the runners share its cores and the target registry (at most 3 rounds)."},
		{scLock, "", "`imagesync lock` of the scale set with no images.lock (HEAD per image through the mirror, plus one manifest GET per new digest for its platforms), and `lock --check` (no network)."},
	}
	for _, sec := range sections {
		st := b.stats(sec.scenario)
		if len(st) == 0 {
			continue
		}
		fmt.Fprintf(&sb, "## %s\n\n%s\n\n", sec.scenario, sec.what)
		for _, f := range b.factsOf(sec.scenario) {
			fmt.Fprintf(&sb, "- %s: %s\n", f.Name, f.Value)
		}
		if sec.scenario == scScaleNoop {
			for _, s := range b.stats("scale: fill") {
				fmt.Fprintf(&sb, "- filling the target first with `%s` (one run): %ss, %s MiB uploaded, %d target requests\n", s.tool, secs(s.median), mibBytes(s.upload), s.dst)
			}
		}
		if is, ok := find(st, sec.ref); ok && sec.ref != "" {
			fmt.Fprintf(&sb, "- %s, target requests of its first round by kind: %s\n", is.tool, kinds(is.byKind))
		}
		sb.WriteString("\n")
		table(&sb, st, sec.ref)
		sb.WriteString("\n")
	}

	old, _ := os.ReadFile(path)
	if block := between(string(old), wanBegin, wanEnd); block != "" {
		sb.WriteString(block + "\n\n")
	}
	analysis := analysisBegin + "\n## Analysis\n\n(Written by hand after a run: the causes of every gap, with the measurements that show them.)\n" + analysisEnd
	if old, err := os.ReadFile(path); err == nil {
		s := string(old)
		if i := strings.Index(s, analysisBegin); i >= 0 {
			if j := strings.Index(s[i:], analysisEnd); j >= 0 {
				analysis = s[i : i+j+len(analysisEnd)]
			}
		}
	}
	sb.WriteString(analysis + "\n")
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}

func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(data))
		if len(f) > 1 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	kernel := firstLine("uname", "-sr")
	return fmt.Sprintf("%s, %d CPUs%s, %s, %s", cpu, runtime.NumCPU(), mem, kernel, runtime.Version())
}

// toolVersions names the versions of the tools, for the report.
func (b *bench) toolVersions() string {
	regsync := "regsync (version unknown)"
	if out, err := exec.Command(b.regsync, "version").CombinedOutput(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "VCSTag:"); ok {
				regsync = "regsync " + strings.TrimSpace(v)
			}
		}
	}
	return strings.Join([]string{firstLine(b.imagesync, "version"), "crane " + firstLine(b.crane, "version"), regsync,
		firstLine(b.skopeo, "--version")}, "; ")
}

func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return name + " (version unknown)"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// writeRunFacts writes the "This run" section: when, where, how.
func (b *bench) writeRunFacts(sb *strings.Builder) {
	sb.WriteString("## This run\n\n")
	fmt.Fprintf(sb, "- date: %s, %d round(s) per scenario, tools in rotating order%s\n", b.meta.Started.UTC().Format("2006-01-02 15:04 MST"), b.meta.Rounds,
		map[bool]string{true: ", **quick mode (small images; not the figures of record)**", false: ""}[b.meta.Quick])
	fmt.Fprintf(sb, "- machine: %s\n", b.meta.Machine)
	fmt.Fprintf(sb, "- load average (1, 5, 15 min) at the start: %s, at the end: %s. The machine is shared: other jobs ran during the benchmark, so single runs are noisy; compare medians taken in the same run, not across runs.\n", b.meta.LoadAvg[0], b.meta.LoadAvg[1])
	fmt.Fprintf(sb, "- registries: two `docker-registry` processes (%s) on loopback, filesystem storage; the target is restarted on fresh (or restored) storage before every timed run that writes\n", b.meta.Registry)
	fmt.Fprintf(sb, "- tools: %s\n", b.meta.Tools)
	sb.WriteString("- how each tool runs: `imagesync apply --auto-approve -q` (default `--parallelism 4`) on an images.hcl naming the set, " +
		"locked beforehand; `regsync once`/`check` with one `type: image` entry per image, `tls: disabled`, default `parallel` (1) and `parallel: 4`; " +
		"`crane copy --insecure SRC DST` per image, one at a time (`crane copy`) and 4 processes at a time (`crane copy x4`); " +
		"`skopeo copy --all --preserve-digests --src-tls-verify=false --dest-tls-verify=false` per image, one at a time, with a fresh blob-info cache per run. " +
		"Every tool copies to the same target references.\n")
	for _, a := range b.meta.Alts {
		what := "another build"
		if a.Name == baselineAlt {
			what = "the build this branch started from, to hold today's figures to the ones before the change (target: no median worse by more than 5%)"
		}
		fmt.Fprintf(sb, "- `imagesync (%s)`: another imagesync build timed in the same rounds (`bench/run.sh -alt %s=BINARY`): %s.\n", a.Name, a.Name, what)
	}
	sb.WriteString("- columns: wall time of the whole job (all its processes); peak RSS = the largest `Maximum resident set size` of `/usr/bin/time -v` " +
		"among its processes (max over rounds); uploaded = sizes of the blobs whose upload completed (`PUT …/blobs/uploads/…?digest=` → 201; manifests are counted apart as manifest PUTs); " +
		"requests = access-log lines of the source and of the target registry during the run (median, max if rounds differ); " +
		"images verified = target tags resolving to the locked digest afterwards, summed over rounds; `A ÷ tool` = imagesync's median over the tool's (below 1: imagesync is faster).\n\n")
}

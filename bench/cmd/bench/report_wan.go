package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/imagesync/imagesync/bench/benchset"
)

const (
	wanBegin = "<!-- wan:begin (written by bench/run.sh --wan; the loopback run keeps it) -->"
	wanEnd   = "<!-- wan:end -->"
	// baselineAlt is the -alt name of the build the branch started from.
	baselineAlt = "before"
)

// between returns the text from begin to end, markers included, or "".
func between(s, begin, end string) string {
	i := strings.Index(s, begin)
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		return ""
	}
	return s[i : i+j+len(end)]
}

// baselineTargets hold this build's medians to those of the build the
// branch started from (-alt before=BINARY), timed in the same rounds:
// no scenario may get slower by more than 5%.
func (b *bench) baselineTargets() []target {
	var out []target
	for _, sc := range []string{scCold, scNoop, scChanged, scBig, scScaleNoop, scScaleCold} {
		st := b.stats(sc)
		for _, s := range st {
			if !strings.HasPrefix(s.tool, "imagesync ") || strings.HasPrefix(s.tool, "imagesync (") {
				continue
			}
			old, ok := find(st, strings.Replace(s.tool, "imagesync", "imagesync ("+baselineAlt+")", 1))
			if !ok {
				continue
			}
			r := s.median.Seconds() / old.median.Seconds()
			out = append(out, target{sc, s.tool + ": median ≤ 1.05 × before",
				fmt.Sprintf("%ss vs %ss before = %.2f×", secs(s.median), secs(old.median), r), verdict(r <= 1.05 && s.ok())})
		}
	}
	return out
}

// bestPeer is the fastest tool of a scenario that is neither imagesync
// nor the floor, among those whose every run succeeded.
func bestPeer(st []stat) stat {
	best := stat{}
	for _, s := range st {
		if strings.HasPrefix(s.tool, "imagesync") || strings.HasPrefix(s.tool, "floor") || !s.ok() {
			continue
		}
		if best.tool == "" || s.median < best.median {
			best = s
		}
	}
	return best
}

// limit is how long moving n bytes takes at the link's bandwidth.
func (b *bench) limit(n int64) time.Duration {
	if b.meta.WANMbit <= 0 {
		return 0
	}
	return time.Duration(float64(n) * 8 / (b.meta.WANMbit * 1e6) * float64(time.Second))
}

func (b *bench) factBytes(scenario, name string) int64 {
	n, _ := strconv.ParseInt(b.factValue(scenario, name), 10, 64)
	return n
}

func (b *bench) wanTargets() []target {
	var out []target
	rtt := b.meta.WANRTT
	if st := b.stats(scCold); len(st) > 0 {
		lim := b.limit(b.factBytes(scCold, "unique_bytes"))
		for _, who := range b.imagesyncs() {
			if s, ok := find(st, who+" apply"); ok && lim > 0 {
				r := s.median.Seconds() / lim.Seconds()
				out = append(out, target{scCold, who + ": median ≤ 1.5 × the bandwidth limit",
					fmt.Sprintf("%ss vs limit %ss = %.2f×", secs(s.median), secs(lim), r), verdict(r <= 1.5 && s.ok())})
			}
		}
	}
	if st := b.stats(scChanged); len(st) > 0 {
		best := bestPeer(st)
		for _, who := range b.imagesyncs() {
			if s, ok := find(st, who+" apply"); ok && best.tool != "" {
				r := s.median.Seconds() / best.median.Seconds()
				out = append(out, target{scChanged, who + ": median ≤ 0.5 × best peer",
					fmt.Sprintf("%ss vs %s %ss = %.2f×", secs(s.median), best.tool, secs(best.median), r), verdict(r <= 0.5 && s.ok())})
			}
		}
	}
	if st := b.stats(scNoop); len(st) > 0 && rtt > 0 {
		for _, who := range b.imagesyncs() {
			if s, ok := find(st, who+" plan"); ok {
				r := s.median.Seconds() / rtt.Seconds()
				out = append(out, target{scNoop, who + " plan: median ≤ 4 round trips",
					fmt.Sprintf("%ss = %.1f round trips of %v", secs(s.median), r, rtt), verdict(r <= 4 && s.ok())})
			}
		}
	}
	for _, sc := range []string{scScaleNoop, scScaleCold} {
		st := b.stats(sc)
		best := bestPeer(st)
		for _, s := range st {
			if strings.HasPrefix(s.tool, "imagesync") && best.tool != "" && (strings.HasSuffix(s.tool, "plan") || strings.HasSuffix(s.tool, "-p4")) {
				out = append(out, target{sc, s.tool + ": report it next to the best peer",
					fmt.Sprintf("%ss vs %s %ss = %.2f×", secs(s.median), best.tool, secs(best.median), s.median.Seconds()/best.median.Seconds()), "reported"})
			}
		}
	}
	return out
}

// wanTable is a scenario's table in WAN mode: with the bandwidth limit
// as a row, and the round trips in a row per image.
func (b *bench) wanTable(sb *strings.Builder, st []stat, ref string, lim time.Duration) {
	r, hasRef := find(st, ref)
	sb.WriteString("| tool | median s | min–max s | " + ratioHeader(ref, hasRef) + " | ÷ limit | CPU s | uploaded MiB | blobs uploaded / mounted | source requests | target requests | round trips in a row per image (median / longest) | images verified |\n")
	sb.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	if lim > 0 {
		fmt.Fprintf(sb, "| *bandwidth limit* | %s | | | 1.00 | | | | | | | |\n", secs(lim))
	}
	for _, s := range st {
		ratio, overLimit := "–", "–"
		if hasRef && s.median > 0 {
			ratio = fmt.Sprintf("%.2f", r.median.Seconds()/s.median.Seconds())
		}
		if lim > 0 {
			overLimit = fmt.Sprintf("%.2f", s.median.Seconds()/lim.Seconds())
		}
		verified := fmt.Sprintf("%d/%d", s.verifiedOK, s.verifiedOf)
		if s.verifiedOf == 0 {
			verified = "–"
		}
		if s.failed > 0 {
			verified += fmt.Sprintf(" (%d of %d runs failed)", s.failed, s.n)
		}
		chain := "–"
		if s.chainMax > 0 {
			chain = fmt.Sprintf("%d / %d", s.chainMedian, s.chainMax)
		}
		fmt.Fprintf(sb, "| %s | %s | %s–%s | %s | %s | %s | %s | %d / %d | %s | %s | %s | %s |\n",
			s.tool, secs(s.median), secs(s.min), secs(s.max), ratio, overLimit, secs(s.cpu), mibBytes(s.upload),
			s.uploads, s.mounts, span(s.src, s.srcMax), span(s.dst, s.dstMax), chain, verified)
	}
	for _, s := range st {
		for _, e := range s.errors {
			fmt.Fprintf(sb, "\n%s failed: `%.400s`\n", s.tool, strings.ReplaceAll(e, "`", "'"))
		}
	}
	sb.WriteString("\nRequests by kind, first round (source; target):\n\n")
	for _, s := range st {
		fmt.Fprintf(sb, "- %s: %s; %s\n", s.tool, kinds(s.srcByKind), kinds(s.byKind))
	}
}

// writeWANReport writes the WAN block of the report, keeping the rest of
// the file (the loopback figures and the analysis) as it is.
func (b *bench) writeWANReport(path string) error {
	var sb strings.Builder
	sb.WriteString(wanBegin + "\n## Far registries (WAN mode)\n\n")
	fmt.Fprintf(&sb, "The same tools with both registries behind `bench/wanproxy`, a TCP proxy of ours that adds half the round trip to every chunk in each direction and one round trip to every new connection (its handshake), and shares one bandwidth cap per direction among all connections: **%s**. The cold set is the loopback one at a fifth of the size (as in issue 15), the scale sets are smaller (the peers check one image at a time), the big layer and skopeo are left out. Rerun with `bench/run.sh --wan %v,%g` (about 40 minutes).\n\n",
		b.meta.WAN, b.meta.WANRTT, b.meta.WANMbit)
	fmt.Fprintf(&sb, "- date: %s, %d round(s) per scenario (scale cold: at most 3), tools in rotating order%s\n", b.meta.Started.UTC().Format("2006-01-02 15:04 MST"), b.meta.Rounds,
		map[bool]string{true: ", **quick mode (small images; not the figures of record)**", false: ""}[b.meta.Quick])
	fmt.Fprintf(&sb, "- machine: %s; load average (1, 5, 15 min) at the start: %s, at the end: %s\n", b.meta.Machine, b.meta.LoadAvg[0], b.meta.LoadAvg[1])
	fmt.Fprintf(&sb, "- tools: %s\n", b.meta.Tools)
	sb.WriteString("- *bandwidth limit*: the unique bytes a scenario must move, at the link's rate; `÷ limit` is a tool's median over it.\n")
	sb.WriteString("- *round trips in a row per image*: the requests of an image are those that name one of its manifests or blobs by digest, its tag on the source or the target, or an upload session that ends with one of its blobs (a blob shared by several images belongs to each; pings and tokens to none), on both registries, as the proxies saw them. Its chain is the longest sequence of them in which each request left the client only after the previous one's answer had arrived: the round trips that stood in a row, whatever made them wait (a dependency, a bound on concurrency, or one request at a time). Shown as the median and the longest over the scenario's images, median over rounds.\n\n")
	sb.WriteString("### Targets (WAN)\n\n| scenario | target | measured | |\n|---|---|---|---|\n")
	for _, t := range b.wanTargets() {
		fmt.Fprintf(&sb, "| %s | %s | %s | %s |\n", t.scenario, t.goal, t.measured, t.verdict)
	}
	sb.WriteString("\n")
	b.wanSections(&sb)
	sb.WriteString(wanEnd)
	return spliceWAN(path, sb.String())
}

func (b *bench) wanSections(sb *strings.Builder) {
	sections := []struct {
		scenario, ref, what string
		lim                 time.Duration
	}{
		{scCold, "imagesync apply", "The 15 images into an empty target.", b.limit(b.factBytes(scCold, "unique_bytes"))},
		{scNoop, "imagesync plan", "The target already holds every image. A no-op plan has nothing to move: its floor is round trips (a connection, the ping, one HEAD per image at once: 3 round trips).", 0},
		{scChanged, "imagesync apply", "Upstream moved `" + benchset.ChangedRef + "`; every run starts from the cold copy's target. The limit counts the new bytes only; a copy also needs a few round trips (read the manifests, place the blobs, push the manifests).", b.limit(b.factBytes(scChanged, "expected_bytes"))},
		{scScaleNoop, "imagesync plan", "Many small images, all already in the target.", 0},
		{scScaleCold, "imagesync apply -p4", "The cold copy of a subset of the small images, by `--parallelism`.", 0},
		{scLock, "", "`imagesync lock` of the scale set from scratch, and `lock --check`.", 0},
	}
	for _, sec := range sections {
		st := b.stats(sec.scenario)
		if len(st) == 0 {
			continue
		}
		fmt.Fprintf(sb, "### %s (WAN)\n\n%s\n\n", sec.scenario, sec.what)
		for _, f := range b.factsOf(sec.scenario) {
			fmt.Fprintf(sb, "- %s: %s\n", f.Name, f.Value)
		}
		sb.WriteString("\n")
		b.wanTable(sb, st, sec.ref, sec.lim)
		sb.WriteString("\n")
	}
}

// spliceWAN puts block in place of the file's WAN block, else before the
// analysis, else at the end; a missing file gets a title.
func spliceWAN(path, block string) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		data, err = []byte("# Benchmarks\n\n"), nil
	}
	if err != nil {
		return err
	}
	doc := string(data)
	switch old := between(doc, wanBegin, wanEnd); {
	case old != "":
		doc = strings.Replace(doc, old, block, 1)
	case strings.Contains(doc, analysisBegin):
		doc = strings.Replace(doc, analysisBegin, block+"\n\n"+analysisBegin, 1)
	default:
		doc = strings.TrimRight(doc, "\n") + "\n\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

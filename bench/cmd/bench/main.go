// Command bench times imagesync against the copiers teams use instead
// (regsync, crane, skopeo) and against a floor that only streams blobs, on
// one machine, in one run: it starts docker-registry processes on
// loopback, generates the upstream images deterministically, runs every
// scenario for every tool in alternating order for several rounds, counts
// wall time, peak RSS, bytes uploaded and requests (from the registries'
// access logs), and writes docs/benchmarks.md.
//
// Run it through bench/run.sh, which installs the peers and builds the
// binaries; see docs/benchmarks.md for the scenarios.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/imagesync/imagesync/bench/benchset"
	"github.com/imagesync/imagesync/bench/wanproxy"
	"github.com/imagesync/imagesync/internal/testregistry"
)

type bench struct {
	repoRoot   string
	work       string
	logDir     string
	rounds     int
	quick      bool
	cmdTimeout time.Duration
	baseEnv    []string

	imagesync, crane, regsync, floor, skopeo string
	skopeoRoot                               string // world-writable, for skopeo running as nobody

	src        *testregistry.Server
	dst        *testregistry.Server
	dstAddr    string
	dstStorage string
	inv        *benchset.Inventory

	results []measurement
	facts   []fact // figures measured outside the rounds, for the report
	meta    meta
	only    map[string]bool

	variants          bool     // diagnostic variants (more parallelism)
	alts              []alt    // other imagesync builds to time next to this one
	tools             []string // run only the jobs whose name contains one of these
	scaleN, scaleCold int
	bigSize           int64
	sizeDiv           int64

	// WAN mode (-wan): the tools reach both registries through proxies
	// on one simulated link; the bench itself (seeding, checks) does not.
	link               *wanproxy.Link
	srcProxy, dstProxy *wanproxy.Proxy
	// chains, when set, attributes the exchanges of a run to the images
	// of the scenario, to count the round trips in a row per image.
	chains *attributor
}

// alt is another imagesync build.
type alt struct{ name, path string }

// meta describes a run, for the report; it is saved with the raw results
// so that -from can render the report again.
type meta struct {
	Started  time.Time `json:"started"`
	Rounds   int       `json:"rounds"`
	Quick    bool      `json:"quick"`
	LoadAvg  [2]string `json:"load_avg"` // at the start and the end
	Machine  string    `json:"machine"`
	Registry string    `json:"registry"`
	Tools    string    `json:"tools"`
	Alts     []metaAlt `json:"alts,omitempty"`
	// WAN describes the simulated link of a -wan run; empty on loopback.
	WAN     string        `json:"wan,omitempty"`
	WANRTT  time.Duration `json:"wan_rtt_ns,omitempty"`
	WANMbit float64       `json:"wan_mbit,omitempty"`
}

type metaAlt struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// raw is the file of raw results.
type raw struct {
	Meta    meta          `json:"meta"`
	Results []measurement `json:"results"`
	Facts   []fact        `json:"facts"`
}

// fact is a named figure for the report.
type fact struct {
	Scenario, Name, Value string
}

func main() {
	var (
		rounds    = flag.Int("rounds", 3, "rounds per scenario; the tools alternate their order between rounds")
		quick     = flag.Bool("quick", false, "smoke test: images 16x smaller, a 64 MiB big layer, 100 scale images, 1 round unless -rounds is given")
		work      = flag.String("work", filepath.Join(os.TempDir(), "imagesync-bench"), "scratch directory (registry storage, logs, workspaces)")
		binDir    = flag.String("bin", "", "directory holding imagesync, floor, crane and regsync")
		out       = flag.String("out", "docs/benchmarks.md", "report to write (\"\" for none)")
		repoRoot  = flag.String("repo", ".", "the imagesync repository")
		scenarios = flag.String("scenarios", "cold,noop,changed,big,scale,shard", "scenarios to run (scale includes lock and cold-200; shard is cold-200 by 1, 2 and 4 runners)")
		timeout   = flag.Duration("cmd-timeout", 10*time.Minute, "bound on every command")
		variants  = flag.Bool("variants", false, "also run diagnostic variants: imagesync -p8/-p16 and the floor 4 at a time in the cold scenario")
		alts      = flag.String("alt", "", "other imagesync builds to time next to this one in the scenarios that copy, e.g. built with a proposed engine patch: `NAME=BINARY[,NAME=BINARY...]`, shown as \"imagesync (NAME)\"")
		tools     = flag.String("tools", "", "comma-separated substrings: run only the tools whose name contains one (e.g. \"imagesync,floor\"); default all")
		from      = flag.String("from", "", "render the report again from a `results.json` of an earlier run, running nothing")
		rerun     = flag.String("rerun-command", "bench/run.sh", "the command line printed in the report")
		wan       = flag.String("wan", "", "WAN mode: reach the registries through a simulated link of `RTT,MBIT[,WINDOW]` (e.g. 150ms,200: 150 ms round trip, 200 Mbit/s each way shared by all connections; WINDOW caps the bytes in flight per connection, e.g. 4MiB); writes the WAN section of the report")
	)
	flag.Parse()
	roundsSet := false
	flag.Visit(func(f *flag.Flag) { roundsSet = roundsSet || f.Name == "rounds" })
	outSet := false
	flag.Visit(func(f *flag.Flag) { outSet = outSet || f.Name == "out" })
	if *quick && !roundsSet {
		*rounds = 1
	}
	if *quick && !outSet {
		// A smoke test must not overwrite the figures of record.
		*out = filepath.Join(*work, "benchmarks-quick.md")
	}
	log.SetFlags(log.Ltime)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b := &bench{repoRoot: *repoRoot, work: *work, rounds: max(*rounds, 1), quick: *quick, cmdTimeout: *timeout,
		scaleN: 1000, scaleCold: 200, bigSize: 1 << 30, sizeDiv: 1, only: map[string]bool{}}
	b.variants = *variants
	b.alts = parseAlts(*alts)
	if *tools != "" {
		b.tools = strings.Split(*tools, ",")
	}
	if *quick {
		b.scaleN, b.scaleCold, b.bigSize, b.sizeDiv = 100, 40, 64<<20, 16
	}
	if *wan != "" {
		scenariosSet := false
		flag.Visit(func(f *flag.Flag) { scenariosSet = scenariosSet || f.Name == "scenarios" })
		if err := b.setWAN(*wan, !scenariosSet, scenarios); err != nil {
			log.Fatal(err)
		}
	}
	for _, s := range strings.Split(*scenarios, ",") {
		b.only[strings.TrimSpace(s)] = true
	}
	if *from != "" {
		b.renderFrom(*from, *out, *rerun)
		return
	}
	if err := b.setup(ctx, *binDir); err != nil {
		log.Fatal(err)
	}
	err := b.run(ctx)
	b.teardown()
	if werr := b.writeRaw(); werr != nil {
		log.Print(werr)
	}
	if *out != "" && len(b.results) > 0 {
		if werr := b.writeReport(*out, *rerun); werr != nil {
			log.Print(werr)
		} else {
			log.Printf("wrote %s", *out)
		}
	}
	if err != nil {
		log.Fatal(err)
	}
}

func (b *bench) setup(ctx context.Context, binDir string) error {
	var err error
	b.meta.Started = time.Now()
	b.meta.Rounds, b.meta.Quick = b.rounds, b.quick
	b.meta.LoadAvg[0] = loadAvg()
	b.meta.Machine = machine()
	b.meta.Registry = firstLine(testregistry.Binary(), "--version")
	for _, a := range b.alts {
		b.meta.Alts = append(b.meta.Alts, metaAlt{Name: a.name, Path: a.path})
	}
	if err := os.RemoveAll(b.work); err != nil {
		return err
	}
	b.logDir = filepath.Join(b.work, "logs")
	for _, d := range []string{b.logDir, filepath.Join(b.work, "docker-config")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if b.skopeoRoot, err = os.MkdirTemp("", "imagesync-bench-skopeo-"); err != nil {
		return err
	}
	if err := os.Chmod(b.skopeoRoot, 0o755); err != nil {
		return err
	}
	// No tool may pick up the user's registry credentials.
	b.baseEnv = []string{"DOCKER_CONFIG=" + filepath.Join(b.work, "docker-config")}
	find := func(name string) (string, error) {
		if binDir != "" {
			p := filepath.Join(binDir, name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("%s not found in -bin %q or PATH (bench/run.sh installs it)", name, binDir)
		}
		return p, nil
	}
	for _, t := range []struct {
		dst  *string
		name string
	}{{&b.imagesync, "imagesync"}, {&b.floor, "floor"}, {&b.crane, "crane"}, {&b.regsync, "regsync"}, {&b.skopeo, "skopeo"}} {
		if *t.dst, err = find(t.name); err != nil {
			return err
		}
	}
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		return fmt.Errorf("/usr/bin/time is needed for peak RSS (apt-get install time): %w", err)
	}
	if err := testregistry.Available(); err != nil {
		return err
	}
	b.meta.Tools = b.toolVersions()
	b.src, err = testregistry.Start(ctx, testregistry.WithStorageDir(filepath.Join(b.work, "source-storage")))
	if err != nil {
		return fmt.Errorf("source registry: %w", err)
	}
	b.dstAddr, err = freeAddr()
	if err != nil {
		return err
	}
	b.dstStorage = filepath.Join(b.work, "target-storage")
	b.inv = benchset.NewInventory()
	if err := b.startProxies(); err != nil {
		return err
	}
	log.Printf("source registry %s, target registry %s (tools use %s and %s), work %s", b.src.Host(), b.dstAddr, b.srcHost(), b.dstHost(), b.work)
	return b.resetTarget(ctx, "")
}

func (b *bench) teardown() {
	b.meta.LoadAvg[1] = loadAvg()
	b.stopProxies()
	if b.dst != nil {
		_ = b.dst.Close()
	}
	if b.src != nil {
		_ = b.src.Close()
	}
	if b.skopeoRoot != "" {
		_ = os.RemoveAll(b.skopeoRoot)
	}
}

// resetTarget restarts the target registry on its address, with empty
// storage or a copy of a snapshot.
func (b *bench) resetTarget(ctx context.Context, snapshot string) error {
	if b.dst != nil {
		if err := b.dst.Close(); err != nil {
			return err
		}
		b.dst = nil
	}
	if err := os.RemoveAll(b.dstStorage); err != nil {
		return err
	}
	if snapshot != "" {
		if out, err := exec.CommandContext(ctx, "cp", "-a", snapshot, b.dstStorage).CombinedOutput(); err != nil {
			return fmt.Errorf("restoring target snapshot: %v: %s", err, out)
		}
	} else if err := os.MkdirAll(b.dstStorage, 0o755); err != nil {
		return err
	}
	var err error
	for range 3 { // the port was ours a moment ago; retry if another process took it
		b.dst, err = testregistry.Start(ctx, testregistry.WithAddr(b.dstAddr), testregistry.WithStorageDir(b.dstStorage))
		if err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("target registry: %w", err)
}

// snapshot stops the target and copies its storage to dir.
func (b *bench) snapshot(ctx context.Context, dir string) error {
	if err := b.dst.Close(); err != nil {
		return err
	}
	b.dst = nil
	_ = os.RemoveAll(dir)
	if out, err := exec.CommandContext(ctx, "cp", "-a", b.dstStorage, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("snapshot of the target: %v: %s", err, out)
	}
	return b.resetTarget(ctx, dir)
}

func (b *bench) writeRaw() error {
	data, err := json.MarshalIndent(raw{Meta: b.meta, Results: b.results, Facts: b.facts}, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(b.work, "results.json")
	log.Printf("raw results: %s", p)
	return os.WriteFile(p, data, 0o644)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// freeAddr is a loopback address nothing listens on right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// renderFrom writes the report of an earlier run's results.json to out,
// running nothing.
func (b *bench) renderFrom(from, out, rerun string) {
	data, err := os.ReadFile(from)
	if err != nil {
		log.Fatal(err)
	}
	var r raw
	if err := json.Unmarshal(data, &r); err != nil {
		log.Fatalf("%s: %v", from, err)
	}
	b.meta, b.results, b.facts = r.Meta, r.Results, r.Facts
	if out == "" || len(b.results) == 0 {
		log.Fatal("nothing to render")
	}
	if err := b.writeReport(out, rerun); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s", out)
}

// parseAlts reads -alt: NAME=BINARY[,NAME=BINARY...].
func parseAlts(spec string) []alt {
	var out []alt
	if spec == "" {
		return nil
	}
	for _, a := range strings.Split(spec, ",") {
		name, path, ok := strings.Cut(a, "=")
		if !ok {
			name, path = "alt", a
		}
		out = append(out, alt{name: name, path: path})
	}
	return out
}

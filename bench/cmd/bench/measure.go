package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imagesync/imagesync/internal/testregistry"
)

// command is one process to run.
type command struct {
	argv []string
	dir  string
	env  []string // added to the bench's environment
}

// job is what one tool does in one run of a scenario: its commands, run
// `parallel` at a time (1: one after the other).
type job struct {
	tool     string
	cmds     []command
	parallel int
	// before runs before each timed run (outside the timing), e.g. to give
	// skopeo a fresh cache directory.
	before func() error
	// noVerify: the job leaves no images behind (the floor).
	noVerify bool
}

// measurement is one timed run of one tool.
type measurement struct {
	Scenario string        `json:"scenario"`
	Tool     string        `json:"tool"`
	Round    int           `json:"round"`
	Wall     time.Duration `json:"wall_ns"`
	// MaxRSS is the largest peak resident set size of the run's processes,
	// from /usr/bin/time -v, in KiB.
	MaxRSS int64 `json:"max_rss_kib"`
	// CPU is the user + system time of the run's processes.
	CPU       time.Duration `json:"cpu_ns"`
	Processes int           `json:"processes"`
	Failed    int           `json:"failed_processes"`
	// Requests seen in the registries' access logs during the run (the
	// readiness probes of testregistry excluded).
	SrcRequests int `json:"src_requests"`
	// SrcCPU and DstCPU are the CPU time the source and the target
	// registry processes spent during the run.
	SrcCPU      time.Duration `json:"src_cpu_ns"`
	DstCPU      time.Duration `json:"dst_cpu_ns"`
	DstRequests int           `json:"dst_requests"`
	// DstByKind counts the target requests by "METHOD kind".
	DstByKind map[string]int `json:"dst_by_kind"`
	// SrcByKind counts the source requests the same way.
	SrcByKind map[string]int `json:"src_by_kind,omitempty"`
	// ChainMedian and ChainMax are the median and the longest, over the
	// scenario's images, of the round trips in a row of each image (WAN
	// mode, see chains.go); Unattributed counts the requests of no image.
	ChainMedian  int `json:"chain_median,omitempty"`
	ChainMax     int `json:"chain_max,omitempty"`
	Unattributed int `json:"unattributed,omitempty"`
	// UploadBytes is the size of every blob whose upload to the target
	// completed (PUT .../blobs/uploads/...?digest= answered 201); the
	// manifests PUT are counted in ManifestPuts, not here.
	UploadBytes   int64  `json:"upload_bytes"`
	BlobUploads   int    `json:"blob_uploads"`
	Mounts        int    `json:"mounts"`
	ManifestPuts  int    `json:"manifest_puts"`
	VerifiedOK    int    `json:"verified_ok"`
	VerifiedTotal int    `json:"verified_total"`
	Error         string `json:"error,omitempty"`
}

// runJob runs a job once, timing it, and returns the measurement without
// the registry counts.
func (b *bench) runJob(ctx context.Context, scenario string, round int, j job) measurement {
	m := measurement{Scenario: scenario, Tool: j.tool, Round: round, Processes: len(j.cmds)}
	if j.before != nil {
		if err := j.before(); err != nil {
			m.Error = err.Error()
			return m
		}
	}
	par := max(j.parallel, 1)
	type result struct {
		rss  int64
		cpu  time.Duration
		err  error
		tail string
	}
	results := make([]result, len(j.cmds))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range j.cmds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rss, cpu, tail, err := b.runTimed(ctx, fmt.Sprintf("%s-%s-r%d-%03d", scenario, j.tool, round, i), c)
			results[i] = result{rss, cpu, err, tail}
		}()
	}
	wg.Wait()
	m.Wall = time.Since(start)
	var errs []string
	for _, r := range results {
		m.MaxRSS = max(m.MaxRSS, r.rss)
		m.CPU += r.cpu
		if r.err != nil {
			m.Failed++
			if len(errs) < 3 {
				errs = append(errs, r.err.Error()+": "+r.tail)
			}
		}
	}
	m.Error = strings.Join(errs, "; ")
	return m
}

// runTimed runs one command under /usr/bin/time -v and returns its peak
// RSS in KiB, its CPU time and, on failure, the tail of its output.
func (b *bench) runTimed(ctx context.Context, name string, c command) (int64, time.Duration, string, error) {
	safe := strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(name)
	logPath := filepath.Join(b.logDir, safe+".log")
	timePath := filepath.Join(b.logDir, safe+".time")
	ctx, cancel := context.WithTimeout(ctx, b.cmdTimeout)
	defer cancel()
	argv := append([]string{"-v", "-o", timePath}, c.argv...)
	cmd := exec.CommandContext(ctx, "/usr/bin/time", argv...)
	cmd.Dir = c.dir
	cmd.Env = append(append(os.Environ(), b.baseEnv...), c.env...)
	out, err := os.Create(logPath)
	if err != nil {
		return 0, 0, "", err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	rss, cpu := parseTime(timePath)
	if runErr != nil {
		return rss, cpu, tail(logPath, 400), fmt.Errorf("%s: %w", strings.Join(c.argv, " "), runErr)
	}
	return rss, cpu, "", nil
}

// parseTime reads the peak RSS (KiB) and the CPU time from the output of
// /usr/bin/time -v.
func parseTime(path string) (rss int64, cpu time.Duration) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "Maximum resident set size (kbytes):"); ok {
			rss, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
		for _, p := range []string{"User time (seconds):", "System time (seconds):"} {
			if v, ok := strings.CutPrefix(line, p); ok {
				f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				cpu += time.Duration(f * float64(time.Second))
			}
		}
	}
	return rss, cpu
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", " | ")
}

// logMark is how many requests each registry had logged before a run,
// and the CPU time its process had used.
type logMark struct {
	src, dst       int
	srcCPU, dstCPU time.Duration
}

func (b *bench) mark() (logMark, error) {
	src, err := b.src.Requests()
	if err != nil {
		return logMark{}, err
	}
	dst, err := b.dst.Requests()
	if err != nil {
		return logMark{}, err
	}
	return logMark{src: len(src), dst: len(dst), srcCPU: processCPU(b.src), dstCPU: processCPU(b.dst)}, nil
}

// processCPU is the CPU time (user + system) a registry process has used
// so far, found through /proc by the config file testregistry gave it; 0
// when it cannot be read.
func processCPU(s *testregistry.Server) time.Duration {
	if s == nil || s.LogPath() == "" {
		return 0
	}
	cfg := filepath.Join(filepath.Dir(s.LogPath()), "config.yml")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), cfg) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
		if err != nil {
			return 0
		}
		// The fields after the command name in parentheses: state is
		// field 3, utime 14 and stime 15, in clock ticks (100 Hz).
		rest := string(stat)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) < 13 {
			return 0
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(ut+st) * 10 * time.Millisecond
	}
	return 0
}

// account fills in the registry counts of m from the requests logged
// since mark.
func (b *bench) account(m *measurement, mk logMark) error {
	// docker-registry writes an access log line once the response is
	// sent; give it a moment after the client exited.
	time.Sleep(150 * time.Millisecond)
	src, err := b.src.Requests()
	if err != nil {
		return err
	}
	dst, err := b.dst.Requests()
	if err != nil {
		return err
	}
	if len(src) < mk.src || len(dst) < mk.dst {
		return errors.New("access log shrank during the run")
	}
	m.SrcCPU, m.DstCPU = processCPU(b.src)-mk.srcCPU, processCPU(b.dst)-mk.dstCPU
	m.SrcByKind = map[string]int{}
	for _, r := range src[mk.src:] {
		if r.UserAgent != verifyAgent {
			m.SrcRequests++
			kind, _, _ := r.Endpoint()
			m.SrcByKind[r.Method+" "+kind.String()]++
		}
	}
	m.DstByKind = map[string]int{}
	for _, r := range dst[mk.dst:] {
		if r.UserAgent == verifyAgent {
			continue
		}
		m.DstRequests++
		kind, _, _ := r.Endpoint()
		m.DstByKind[r.Method+" "+kind.String()]++
		switch {
		case kind == testregistry.KindBlobUpload && r.Method == http.MethodPut && r.Status == http.StatusCreated:
			q, _ := url.ParseQuery(r.Query)
			d := q.Get("digest")
			size, ok := b.inv.Size(d)
			if !ok {
				size = b.storedSize(d)
			}
			m.UploadBytes += size
			m.BlobUploads++
		case kind == testregistry.KindBlobUpload && r.Method == http.MethodPost && r.Status == http.StatusCreated &&
			strings.Contains(r.Query, "mount="):
			m.Mounts++
		case kind == testregistry.KindManifest && r.Method == http.MethodPut && r.Status == http.StatusCreated:
			m.ManifestPuts++
		}
	}
	return nil
}

// storedSize is the size of a blob in the target's storage, 0 if absent.
func (b *bench) storedSize(d string) int64 {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) < 2 {
		return 0
	}
	fi, err := os.Stat(filepath.Join(b.dstStorage, "docker", "registry", "v2", "blobs", algo, hex[:2], hex, "data"))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// verifyAgent marks the bench's own checks, left out of the counts.
const verifyAgent = "imagesync-bench-verify"

// verify asks the target what each expected tag points at.
func (b *bench) verify(ctx context.Context, m *measurement, want map[string]string) {
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	accept := strings.Join([]string{
		"application/vnd.oci.image.index.v1+json",
		"application/vnd.docker.distribution.manifest.list.v2+json",
		"application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json",
	}, ", ")
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	m.VerifiedTotal = len(want)
	for target, digest := range want {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			host, rest, _ := strings.Cut(b.direct(target), "/")
			repo, tag, _ := strings.Cut(rest, ":")
			req, err := http.NewRequestWithContext(ctx, http.MethodHead, "http://"+host+"/v2/"+repo+"/manifests/"+tag, nil)
			if err != nil {
				return
			}
			req.Header.Set("Accept", accept)
			req.Header.Set("User-Agent", verifyAgent)
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && resp.Header.Get("Docker-Content-Digest") == digest {
				mu.Lock()
				m.VerifiedOK++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

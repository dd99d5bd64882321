package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagesync/imagesync/internal/testregistry"
)

// faultRow is the outcome of a case, for the table.
type faultRow struct {
	c        faultCase
	injected int
	firstTry bool // the faulty run completed every image
	outcome  string
	uploaded int64 // upload bytes the target's proxy read, faulty run and re-run
	absorbed absorbed
}

// absorbed counts how the engine absorbed faults, from its debug log.
type absorbed struct {
	retries   int // request retries of the retry layer
	resumes   int // downloads resumed where they broke off
	refetches int // blobs fetched again after bytes that failed the digest check
	restarts  int // blob transfers started again
}

func countAbsorbed(stderr string) absorbed {
	return absorbed{
		retries:   strings.Count(stderr, `msg=retrying`),
		resumes:   strings.Count(stderr, `msg="resuming blob download"`),
		refetches: strings.Count(stderr, `msg="fetching blob again"`) + strings.Count(stderr, `msg="fetching blob from the next source"`),
		restarts:  strings.Count(stderr, `msg="restarting blob transfer"`) + strings.Count(stderr, `msg="restarting manifest push"`),
	}
}

// String lists what was needed, "" for nothing.
func (a absorbed) String() string {
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{a.retries, "request retries"}, {a.resumes, "resumed downloads"}, {a.refetches, "blobs fetched again"}, {a.restarts, "restarts"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return strings.Join(parts, ", ")
}

// faultTable renders the rows as the markdown table of docs/reliability.md.
func faultTable(rows []faultRow) string {
	baseline := rows[0].uploaded
	var b strings.Builder
	b.WriteString("| fault | injected | first try | outcome | bytes re-sent | reproduce |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		resent := r.uploaded - baseline
		injected := fmt.Sprint(r.injected)
		if r.c.rules == nil {
			injected = "0"
			resent = 0
		}
		first := "yes"
		switch {
		case !r.firstTry && r.c.permanent:
			first = "no: permanent"
		case !r.firstTry:
			first = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | `go test ./e2e -run 'TestFaults/%s$' -v` |\n",
			r.c.fault, injected, first, r.outcome, bytesText(resent, baseline, r.c.rules == nil), r.c.name)
	}
	return b.String()
}

func bytesText(resent, baseline int64, isBaseline bool) string {
	if isBaseline {
		return fmt.Sprintf("0 (%d bytes uploaded in all)", baseline)
	}
	return fmt.Sprint(resent)
}

const (
	tableBegin = "<!-- fault-table:begin (written by TestFaults) -->"
	tableEnd   = "<!-- fault-table:end -->"
)

// updateReliabilityDoc replaces the table between the markers of
// docs/reliability.md.
func updateReliabilityDoc(t *testing.T, table string) {
	t.Helper()
	path := filepath.Join("..", "docs", "reliability.md")
	doc := readFile(t, path)
	i, j := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %q and %q", path, tableBegin, tableEnd)
	}
	stamp := fmt.Sprintf("\n_Fresh run: %s, docker-registry %s._\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), registryVersion())
	doc = doc[:i+len(tableBegin)] + stamp + table + "\n" + doc[j:]
	writeFile(t, path, doc)
	t.Logf("updated %s", path)
}

// registryVersion is what docker-registry --version prints.
func registryVersion() string {
	out, err := exec.Command(testregistry.Binary(), "--version").Output()
	if err != nil {
		return "(unknown version)"
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

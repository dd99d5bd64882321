package view

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/workspace"
)

// applyTally counts what an apply did.
type applyTally struct {
	done       map[diff.Action]int
	failed     []apply.Result // failed, not counting those not started
	notStarted int
	hasBuilds  bool
}

func tally(results []apply.Result) applyTally {
	t := applyTally{done: map[diff.Action]int{}}
	for _, r := range results {
		t.hasBuilds = t.hasBuilds || r.Change.Kind == diff.KindBuild
		switch {
		case errors.Is(r.Err, apply.ErrNotStarted):
			t.notStarted++
		case r.Err != nil:
			t.failed = append(t.failed, r)
		case len(r.ReferrerFailures) > 0:
			// The image landed; some of its referrers did not.
			t.failed = append(t.failed, r)
			t.done[r.Change.Action]++
		default:
			t.done[r.Change.Action]++
		}
	}
	return t
}

// counts is "1 created, 1 updated", with the builds when there were any.
func (t applyTally) counts() string {
	s := fmt.Sprintf("%d created, %d updated", t.done[diff.Create], t.done[diff.Update])
	if t.done[diff.Referrers] > 0 {
		s += fmt.Sprintf(", %d completed with referrers", t.done[diff.Referrers])
	}
	if t.hasBuilds {
		s += fmt.Sprintf(", %d built, %d rebuilt", t.done[diff.Build], t.done[diff.Rebuild])
	}
	return s
}

// resultWord is the RESULT column of a result.
func resultWord(r apply.Result) string {
	switch {
	case errors.Is(r.Err, apply.ErrNotStarted):
		return "not started"
	case r.Err != nil:
		return "FAILED"
	case len(r.ReferrerFailures) > 0:
		return referrersResult(r)
	}
	return "ok"
}

// WriteApplySummary writes the table of what apply did and the closing
// line: "Apply complete! ...", the list of failures, or why the run
// stopped.
func WriteApplySummary(w io.Writer, res *workspace.ApplyResult) error {
	rows := make([][]string, 0, len(res.Results))
	for _, r := range res.Results {
		rows = append(rows, []string{r.Change.Target.String(), string(r.Change.Action), Bytes(r.BytesUploaded),
			strconv.Itoa(r.BlobsMounted), strconv.Itoa(r.BlobsSkipped), fmt.Sprintf("%.1f", r.Duration.Seconds()), resultWord(r)})
	}
	if len(rows) > 0 {
		if err := table(w, []string{"IMAGE", "ACTION", "UPLOADED", "MOUNTED", "SKIPPED", "SECONDS", "RESULT"}, rows); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	t := tally(res.Results)
	var b strings.Builder
	switch {
	case res.Stopped != nil:
		fmt.Fprintf(&b, "Apply stopped: %s\n", stoppedText(res.Stopped, t))
	case len(t.failed) == 0:
		fmt.Fprintf(&b, "Apply complete! Images: %s, %d unchanged.\n", t.counts(), res.Unchanged)
	default:
		fmt.Fprintf(&b, "Apply failed for %d of %s (%s):\n", len(t.failed), Plural(len(res.Results), "image"), t.counts())
	}
	if res.Stopped != nil && len(t.failed) > 0 {
		fmt.Fprintf(&b, "Failed (%d):\n", len(t.failed))
	}
	for _, r := range t.failed {
		if r.Err == nil {
			writeReferrerFailures(&b, r)
			continue
		}
		fmt.Fprintf(&b, "  %s (%s): %v\n", r.Change.Target, r.Change.Source, r.Err)
	}
	if res.Stopped != nil || len(t.failed) > 0 {
		b.WriteString(againText(res.Stopped) + "\n")
	}
	return writeText(w, b.String())
}

// stoppedText says why a run stopped and what it did until then.
func stoppedText(wait *registry.WaitTooLongError, t applyTally) string {
	return fmt.Sprintf("%s asked to wait %s (%s, Retry-After), longer than --max-wait %s. Done before the stop: %s; %d failed, %d not started.",
		wait.Host, wait.Wait, wait.Status, wait.MaxWait, t.counts(), len(t.failed), t.notStarted)
}

// againText says when to run apply again.
func againText(wait *registry.WaitTooLongError) string {
	if wait == nil {
		return `Run "imagesync apply" again to finish: what landed is not sent again.`
	}
	return fmt.Sprintf(`Run "imagesync apply" again after %s (or with a larger --max-wait) to finish: what landed is not sent again.`,
		wait.Until.UTC().Format("2006-01-02 15:04:05 UTC"))
}

// WriteApplyMarkdown renders what apply did for a pull request or a job
// summary: the closing line, a table (image, action, uploaded, result),
// then the failures, or why the run stopped.
func WriteApplyMarkdown(w io.Writer, res *workspace.ApplyResult, opts MarkdownOptions) error {
	opts = opts.withDefaults()
	t := tally(res.Results)
	var b strings.Builder
	b.WriteString("## imagesync apply\n\n")
	switch {
	case res.Stopped != nil:
		fmt.Fprintf(&b, "> [!WARNING]\n> **Apply stopped:** %s\n", mdText(stoppedText(res.Stopped, t)))
	case len(t.failed) == 0:
		fmt.Fprintf(&b, "**Apply complete! Images: %s, %d unchanged.**\n", t.counts(), res.Unchanged)
	default:
		fmt.Fprintf(&b, "**Apply failed for %d of %s** (%s).\n", len(t.failed), Plural(len(res.Results), "image"), t.counts())
	}
	table := &mdTable{header: []string{"Image", "Action", "Uploaded", "Result"}}
	for _, r := range res.Results {
		word := resultWord(r)
		if r.Err != nil && word == "FAILED" {
			word = ":x: failed"
		}
		table.rows = append(table.rows, []string{mdCode(r.Change.Target.String()), string(r.Change.Action), Bytes(r.BytesUploaded), word})
	}
	if len(table.rows) > 0 {
		b.WriteString("\n")
		table.write(&b, opts.MaxRows, "images")
	}
	if len(t.failed) > 0 {
		fmt.Fprintf(&b, "\n### Failures (%d)\n\n", len(t.failed))
		for i, r := range t.failed {
			if i == opts.MaxRows {
				fmt.Fprintf(&b, "\n_… and %d more, not shown._\n", len(t.failed)-i)
				break
			}
			fmt.Fprintf(&b, "- %s (%s): %s\n", mdCode(r.Change.Target.String()), mdCode(r.Change.Source.String()), mdText(failureText(r)))
		}
	}
	if res.Stopped != nil || len(t.failed) > 0 {
		fmt.Fprintf(&b, "\n%s\n", mdText(againText(res.Stopped)))
	}
	return writeText(w, b.String())
}

// applyJSON is the JSON form of what apply did.
type applyJSON struct {
	Complete   bool              `json:"complete"`
	Created    int               `json:"created"`
	Updated    int               `json:"updated"`
	Built      int               `json:"built"`
	Rebuilt    int               `json:"rebuilt"`
	Failed     int               `json:"failed"`
	NotStarted int               `json:"not_started"`
	Unchanged  int               `json:"unchanged"`
	Stopped    *stoppedJSON      `json:"stopped,omitempty"`
	Results    []applyResultJSON `json:"results"`
}

type stoppedJSON struct {
	Host           string    `json:"host"`
	Status         string    `json:"status"`
	WaitSeconds    float64   `json:"wait_seconds"`
	MaxWaitSeconds float64   `json:"max_wait_seconds"`
	Until          time.Time `json:"until"`
}

type applyResultJSON struct {
	Kind          diff.Kind   `json:"kind"`
	Action        diff.Action `json:"action"`
	Source        string      `json:"source"`
	Target        string      `json:"target"`
	UploadedBytes int64       `json:"uploaded_bytes"`
	BlobsUploaded int         `json:"blobs_uploaded"`
	BlobsMounted  int         `json:"blobs_mounted"`
	BlobsSkipped  int         `json:"blobs_skipped"`
	Seconds       float64     `json:"seconds"`
	Result        string      `json:"result"` // "ok", "failed", "not started"
	Error         string      `json:"error,omitempty"`
}

// WriteApplyJSON renders what apply did as one JSON document.
func WriteApplyJSON(w io.Writer, res *workspace.ApplyResult) error {
	t := tally(res.Results)
	doc := applyJSON{Complete: res.Stopped == nil && len(t.failed) == 0, Created: t.done[diff.Create], Updated: t.done[diff.Update],
		Built: t.done[diff.Build], Rebuilt: t.done[diff.Rebuild], Failed: len(t.failed), NotStarted: t.notStarted,
		Unchanged: res.Unchanged, Results: []applyResultJSON{}}
	if s := res.Stopped; s != nil {
		doc.Stopped = &stoppedJSON{Host: s.Host, Status: s.Status, WaitSeconds: s.Wait.Seconds(), MaxWaitSeconds: s.MaxWait.Seconds(), Until: s.Until.UTC()}
	}
	for _, r := range res.Results {
		rj := applyResultJSON{Kind: r.Change.Kind, Action: r.Change.Action, Source: r.Change.Source.String(), Target: r.Change.Target.String(),
			UploadedBytes: r.BytesUploaded, BlobsUploaded: r.BlobsUploaded, BlobsMounted: r.BlobsMounted, BlobsSkipped: r.BlobsSkipped,
			Seconds: r.Duration.Seconds(), Result: strings.ToLower(resultWord(r))}
		if r.Err != nil {
			rj.Error = r.Err.Error()
		}
		doc.Results = append(doc.Results, rj)
	}
	enc := json.NewEncoder(safeJSON(w))
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// failureText is what went wrong with a failed result: its error, or the
// referrers that did not land with an image that did.
func failureText(r apply.Result) string {
	if r.Err != nil {
		return r.Err.Error()
	}
	var b strings.Builder
	writeReferrerFailures(&b, r)
	return strings.Join(strings.Fields(b.String()), " ")
}

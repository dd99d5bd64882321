package view

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/referrers"
)

// LineProgress prints one line when an image starts and one when it ends,
// for logs that are not terminals (CI).
type LineProgress struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLineProgress returns a LineProgress writing to w.
func NewLineProgress(w io.Writer) *LineProgress { return &LineProgress{w: w} }

// Started implements apply.Progress.
func (p *LineProgress) Started(c diff.Change) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.Kind == diff.KindBuild {
		p.printf("%s: building %s\n", c.Target, ServicesLabel(c.Services))
		return
	}
	if c.Action == diff.Referrers {
		p.printf("%s: copying referrers of %s@%s (%s)\n", c.Target, c.Source, imageref.ShortDigest(c.TargetDigest()), referrers.Summary(c.Referrers))
		return
	}
	p.printf("%s: copying %s@%s\n", c.Target, c.Source, imageref.ShortDigest(c.Digest))
}

// printf writes one line, escaped: an error may quote a registry.
func (p *LineProgress) printf(format string, args ...any) {
	_ = writeText(p.w, fmt.Sprintf(format, args...))
}

// Sized implements apply.Progress.
func (p *LineProgress) Sized(diff.Change, int64) {}

// Advanced implements apply.Progress.
func (p *LineProgress) Advanced(diff.Change, int64) {}

// Finished implements apply.Progress.
func (p *LineProgress) Finished(r apply.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Err != nil {
		p.printf("%s: failed after %.1fs: %v\n", r.Change.Target, r.Duration.Seconds(), r.Err)
		return
	}
	if r.Change.Kind == diff.KindBuild {
		p.printf("%s: built and pushed in %.1fs\n", r.Change.Target, r.Duration.Seconds())
		return
	}
	p.printf("%s: done in %.1fs, %s uploaded, %s mounted, %d already there%s\n",
		r.Change.Target, r.Duration.Seconds(), Bytes(r.BytesUploaded), Plural(r.BlobsMounted, "blob"), r.BlobsSkipped, referrersDone(r))
}

// BarProgress draws one live bar per image on a terminal.
type BarProgress struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[string]*mpb.Bar // by target
}

// NewBarProgress returns a BarProgress drawing on w; call Wait when done.
func NewBarProgress(w io.Writer) *BarProgress {
	return &BarProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(32)), bars: map[string]*mpb.Bar{}}
}

// Started implements apply.Progress.
func (b *BarProgress) Started(c diff.Change) {
	bar := b.p.AddBar(0,
		mpb.PrependDecorators(decor.Name(c.Target.String(), decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.OnComplete(decor.CountersKibiByte("% .1f / % .1f"), "done")),
	)
	b.mu.Lock()
	b.bars[c.Target.String()] = bar
	b.mu.Unlock()
}

func (b *BarProgress) bar(c diff.Change) *mpb.Bar {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bars[c.Target.String()]
}

// Sized implements apply.Progress.
func (b *BarProgress) Sized(c diff.Change, total int64) {
	if bar := b.bar(c); bar != nil {
		bar.SetTotal(total, false)
	}
}

// Advanced implements apply.Progress.
func (b *BarProgress) Advanced(c diff.Change, n int64) {
	if bar := b.bar(c); bar != nil {
		bar.IncrInt64(n)
	}
}

// Finished implements apply.Progress.
func (b *BarProgress) Finished(r apply.Result) {
	bar := b.bar(r.Change)
	if bar == nil {
		return
	}
	if r.Err != nil {
		bar.Abort(false)
		return
	}
	bar.SetTotal(-1, true)
}

// Wait flushes the bars.
func (b *BarProgress) Wait() { b.p.Wait() }

// WriteConfirmPrompt asks for the approval of the plan shown above.
func WriteConfirmPrompt(w io.Writer) {
	fmt.Fprint(w, "\nDo you want to apply these changes?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
}

// WriteApplyCancelled says that the plan was not approved.
func WriteApplyCancelled(w io.Writer) { fmt.Fprintln(w, "\nApply cancelled.") }

// WriteApplyingSavedPlan introduces the apply of a saved plan.
func WriteApplyingSavedPlan(w io.Writer, file string, p *diff.Plan) error {
	return writeText(w, fmt.Sprintf("Applying the saved plan %s: %s", file, strings.TrimPrefix(SummaryLine(p), "Plan: ")))
}

// Plural writes a count with its noun: "1 blob", "2 blobs".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Bytes formats a byte count for people: "0 B", "12.3 KiB", "1.5 GiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

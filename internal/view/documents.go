package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/verify"
	"github.com/imagesync/imagesync/internal/workspace"
)

// LockCheck is the result of `imagesync lock --check`: the lock when it is
// up to date, else why it is not.
type LockCheck struct {
	LockName string
	Lock     *lock.Lock                // when up to date
	Stale    *workspace.StaleLockError // when not
	Fix      string                    // the command that updates the lock
	// Online is set by --online: Upstream lists the images whose tag
	// does not point at the locked digest, or could not be asked.
	Online   bool
	Upstream []diff.LockedUpstream
}

// lockCheckJSON is the JSON form of a LockCheck.
type lockCheckJSON struct {
	Lockfile    string           `json:"lockfile"`
	UpToDate    bool             `json:"up_to_date"`
	Missing     bool             `json:"missing"`
	Images      int              `json:"images,omitempty"`
	Builds      int              `json:"builds,omitempty"`
	Differences []differenceJSON `json:"differences"`
	Fix         string           `json:"fix,omitempty"`
	// Upstream is set with --online: the images whose locked digest is
	// not what the tag points at upstream, or could not be checked.
	Online   bool           `json:"online,omitempty"`
	Upstream []upstreamJSON `json:"upstream,omitempty"`
}

type differenceJSON struct {
	Change    string `json:"change"` // "added", "removed", "upgraded", "changed"
	Kind      string `json:"kind"`   // "image", "build"
	Reference string `json:"reference"`
	Detail    string `json:"detail,omitempty"`
}

var changeNames = map[lock.ChangeKind]string{lock.Added: "added", lock.Removed: "removed", lock.Upgraded: "upgraded", lock.Moved: "changed"}

// WriteLockCheckJSON renders lock --check's result as one JSON document.
func WriteLockCheckJSON(w io.Writer, c LockCheck) error {
	doc := lockCheckJSON{Lockfile: c.LockName, UpToDate: c.Stale == nil, Differences: []differenceJSON{}}
	if c.Stale == nil {
		doc.Images, doc.Builds = len(c.Lock.Images), len(c.Lock.Builds)
		if c.Online {
			doc.Online, doc.Upstream = true, upstreamDoc(c.Upstream)
		}
	} else {
		doc.Missing, doc.Fix = c.Stale.Missing, c.Fix
		for _, ch := range c.Stale.Changes {
			kind := "image"
			if ch.Build {
				kind = "build"
			}
			doc.Differences = append(doc.Differences, differenceJSON{Change: changeNames[ch.Kind], Kind: kind, Reference: ch.Ref.String(), Detail: ch.Detail})
		}
	}
	enc := json.NewEncoder(safeJSON(w))
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// WriteLockCheckMarkdown renders lock --check's result for a pull request.
func WriteLockCheckMarkdown(w io.Writer, c LockCheck, opts MarkdownOptions) error {
	opts = opts.withDefaults()
	var b strings.Builder
	b.WriteString("## imagesync lock --check\n\n")
	switch {
	case c.Stale == nil:
		fmt.Fprintf(&b, ":white_check_mark: %s is up to date: %d images, %d builds.\n", mdCode(c.LockName), len(c.Lock.Images), len(c.Lock.Builds))
		if c.Online {
			writeUpstreamMarkdown(&b, c, opts)
		}
	case c.Stale.Missing:
		fmt.Fprintf(&b, ":x: %s does not exist.\n", mdCode(c.LockName))
	default:
		fmt.Fprintf(&b, ":x: %s is out of date (%d differences):\n\n", mdCode(c.LockName), len(c.Stale.Changes))
		t := &mdTable{header: []string{"", "Reference", "Difference"}}
		for _, ch := range c.Stale.Changes {
			t.rows = append(t.rows, []string{changeSymbol(ch), mdCode(subject(ch)), mdCell(staleDetail(ch, c.LockName))})
		}
		t.write(&b, opts.MaxRows, "differences")
	}
	if c.Stale != nil {
		fmt.Fprintf(&b, "\nRun %s and commit %s.\n", mdCode(c.Fix), mdCode(c.LockName))
	}
	return writeText(w, b.String())
}

// WriteVerifyMarkdown renders what verify found for a pull request or a
// job summary.
func WriteVerifyMarkdown(w io.Writer, rep *verify.Report, opts MarkdownOptions) error {
	opts = opts.withDefaults()
	var b strings.Builder
	b.WriteString("## imagesync verify\n\n")
	if len(rep.Problems) == 0 {
		fmt.Fprintf(&b, ":white_check_mark: **Verified %s**: %s.\n", Plural(rep.Images, "image"), verifiedDepth(rep))
	} else {
		fmt.Fprintf(&b, ":x: **The target registry does not match %s** (%s):\n\n", mdCode(opts.LockName), Plural(len(rep.Problems), "problem"))
		t := &mdTable{header: []string{"Target", "Source", "Problem"}}
		for _, p := range rep.Problems {
			t.rows = append(t.rows, []string{mdCode(p.Target.String()), mdCode(p.Source.String()), mdCell(p.Detail)})
		}
		t.write(&b, opts.MaxRows, "problems")
	}
	return writeText(w, b.String())
}

// WriteImagesMarkdown renders an image list as markdown tables: the
// images, then the builds.
func WriteImagesMarkdown(w io.Writer, list ImageList, opts MarkdownOptions) error {
	opts = opts.withDefaults()
	var b strings.Builder
	fmt.Fprintf(&b, "## imagesync images\n\n%s, %s.\n", Plural(len(list.Images), "image"), Plural(len(list.Builds), "build"))
	images := &mdTable{header: []string{"Reference", "Digest", "Platforms", "Target", "Found in"}}
	for _, img := range list.Images {
		images.rows = append(images.rows, []string{mdCode(img.Reference), mdCode(imageref.ShortDigest(digest.Digest(img.Digest))),
			mdCell(strings.Join(img.Platforms, ", ")), mdCode(img.Target), codeList(img.Sources)})
	}
	if len(images.rows) > 0 {
		b.WriteString("\n")
		images.write(&b, opts.MaxRows, "images")
	}
	builds := &mdTable{header: []string{"Image", "Services", "Target", "Dockerfile", "Bases"}}
	for _, bl := range list.Builds {
		builds.rows = append(builds.rows, []string{mdCode(bl.Reference), mdCell(strings.Join(bl.Services, ", ")), mdCode(bl.Target),
			mdCode(bl.Dockerfile), codeList(bl.Bases)})
	}
	if len(builds.rows) > 0 {
		b.WriteString("\n")
		builds.write(&b, opts.MaxRows, "builds")
	}
	return writeText(w, b.String())
}

// codeList is a list of code spans, comma-separated.
func codeList(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = mdCode(s)
	}
	return strings.Join(out, ", ")
}

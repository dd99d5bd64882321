package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/lock"
)

// What `lock --check --online` adds: every tag of the lock asked
// upstream, and the images whose locked digest is not what the tag points
// at now, or whose tag could not be asked.

// taggedImages counts the images of l whose reference is a tag, those
// --online asks about.
func taggedImages(l *lock.Lock) int {
	n := 0
	for _, img := range l.Images {
		if !img.Ref.IsPinned() {
			n++
		}
	}
	return n
}

// UpstreamProblems says how many images --online found wrong, for the
// error that makes lock --check exit 1; "" when none.
func UpstreamProblems(found []diff.LockedUpstream) string {
	unusual, unchecked := splitUpstream(found)
	switch {
	case len(unusual) > 0 && len(unchecked) > 0:
		return fmt.Sprintf("%s, and %s could not be checked", unusualHead(len(unusual)), Plural(len(unchecked), "tag"))
	case len(unusual) > 0:
		return unusualHead(len(unusual))
	case len(unchecked) > 0:
		return fmt.Sprintf("%s of images.lock could not be checked upstream", Plural(len(unchecked), "tag"))
	}
	return ""
}

func splitUpstream(found []diff.LockedUpstream) (unusual, unchecked []diff.LockedUpstream) {
	for _, u := range found {
		if u.Unusual() {
			unusual = append(unusual, u)
		} else {
			unchecked = append(unchecked, u)
		}
	}
	return unusual, unchecked
}

// WriteLockUpstream writes what --online found, after the line that says
// the lock is up to date.
func WriteLockUpstream(w io.Writer, l *lock.Lock, found []diff.LockedUpstream) error {
	var b strings.Builder
	if len(found) == 0 {
		fmt.Fprintf(&b, "Upstream: every tag of the lock (%d) points at its locked digest.\n", taggedImages(l))
		return writeText(w, b.String())
	}
	fmt.Fprintf(&b, "Upstream, of %s asked: %s.\n", Plural(taggedImages(l), "tag"), UpstreamProblems(found))
	unusual, unchecked := splitUpstream(found)
	for _, u := range unusual {
		fmt.Fprintf(&b, "  ! %s\n      locked    %s\n      upstream  %s\n", u.Source, u.Locked, u.Upstream.Digest)
	}
	for _, u := range unchecked {
		fmt.Fprintf(&b, "  ? %s: %s\n", u.Source, oneLine(u.Upstream.Err))
	}
	if len(unusual) > 0 {
		fmt.Fprintf(&b, "  %s\n", unusualAdvice)
	}
	return writeText(w, b.String())
}

// upstreamJSON is one image --online found wrong.
type upstreamJSON struct {
	Reference string `json:"reference"`
	Locked    string `json:"locked_digest"`
	Upstream  string `json:"upstream_digest,omitempty"`
	Unusual   bool   `json:"unusual"`
	Error     string `json:"error,omitempty"`
}

func upstreamDoc(found []diff.LockedUpstream) []upstreamJSON {
	out := []upstreamJSON{}
	for _, u := range found {
		out = append(out, upstreamJSON{Reference: u.Source.String(), Locked: u.Locked.String(), Upstream: u.Upstream.Digest.String(),
			Unusual: u.Unusual(), Error: u.Upstream.Err})
	}
	return out
}

// writeUpstreamMarkdown writes what --online found as markdown.
func writeUpstreamMarkdown(b *strings.Builder, c LockCheck, opts MarkdownOptions) {
	if len(c.Upstream) == 0 {
		fmt.Fprintf(b, "\n:white_check_mark: Upstream: every tag of the lock (%d) points at its locked digest.\n", taggedImages(c.Lock))
		return
	}
	fmt.Fprintf(b, "\n> [!CAUTION]\n> Upstream, of %s asked: %s. %s\n\n", Plural(taggedImages(c.Lock), "tag"), mdText(UpstreamProblems(c.Upstream)), mdText(unusualAdvice))
	t := &mdTable{header: []string{"Reference", "Locked digest", "Upstream now"}}
	for _, u := range c.Upstream {
		now := mdCode(u.Upstream.Digest.String())
		if now == "" {
			now = "could not be checked: " + mdCell(u.Upstream.Err)
		}
		t.rows = append(t.rows, []string{mdCode(u.Source.String()), mdCode(u.Locked.String()), now})
	}
	t.write(b, opts.MaxRows, "images")
}

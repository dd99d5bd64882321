package view

import (
	"fmt"
	"strings"
)

// Format is how a command renders its result: for people in a terminal or
// a log, for programs, or for a pull request (a job summary, a merge
// request note).
type Format string

const (
	Text     Format = "text"
	JSON     Format = "json"
	Markdown Format = "markdown"
)

// Formats lists the formats, for help texts.
var Formats = []Format{Text, JSON, Markdown}

// ParseFormat reads a --format value; "" is Text.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case "":
		return Text, nil
	case Text, JSON, Markdown:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q: use text, json or markdown", s)
}

// MarkdownOptions control the markdown renderers.
type MarkdownOptions struct {
	// MaxRows bounds the rows of each table; the rest are counted, so
	// that a plan of thousands of images stays readable (and within a
	// pull-request comment's size). Default DefaultMaxRows.
	MaxRows int
	// LockName names the lockfile in the text, default "images.lock".
	LockName string
}

// DefaultMaxRows is the default of MarkdownOptions.MaxRows.
const DefaultMaxRows = 50

func (o MarkdownOptions) withDefaults() MarkdownOptions {
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.LockName == "" {
		o.LockName = "images.lock"
	}
	return o
}

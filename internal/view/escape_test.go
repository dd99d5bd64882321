package view

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/imagesync/imagesync/internal/apply"
	"github.com/imagesync/imagesync/internal/workspace"
)

// hostile is what a registry can put in an error's text (issue 19 case
// 14): workflow commands at the start of a line, after blanks and in the
// legacy form, and terminal escape sequences (a title, a hidden link, a
// colour, a cursor move).
const hostile = "denied\n::stop-commands::abc\n  ::add-mask::secret\n::error file=images.lock,line=1::fake\r" +
	"\x1b]0;title\x07 \x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ \x1b[2J\x9b31m ##[set-output name=x;]y \u202eRTL"

// checkTerminal fails when out would act in a terminal or a job log:
// an escape or control character, a line taken for a workflow command.
func checkTerminal(t *testing.T, sink, out string) {
	t.Helper()
	for _, r := range out {
		if (isControl(r) && r != '\n' && r != '\t') || !utf8.ValidString(out) {
			t.Errorf("%s: control character %U in output:\n%q", sink, r, out)
			return
		}
	}
	for line := range strings.Lines(out) {
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "::") || strings.Contains(line, "##[") {
			t.Errorf("%s: a line the runner takes for a command: %q", sink, line)
		}
	}
}

func TestTerminalText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text, 50% done: ok\n", "plain text, 50% done: ok\n"},
		{"::stop-commands::abc", `\x3a:stop-commands::abc`},
		{"a\n  ::add-mask::x\n", "a\n  \\x3a:add-mask::x\n"},
		{"x ::not-leading:: y", "x ::not-leading:: y"},
		{"\x1b]0;title\x07", `\x1b]0;title\x07`},
		{"cr\rover", `cr\x0dover`},
		{"\t::error::tab", "\t\\x3a:error::tab"},
		{"\v::error::vt", `\x0b\x3a:error::vt`},
		{"a ##[error]b", `a ##\x5berror]b`},
		{"c1 \u009b31m", `c1 \x9b31m`},
		{"raw \x9b31m", "raw \ufffd31m"},
		{"bidi \u202e", `bidi \u202e`},
	} {
		if got := TerminalText(tt.in); got != tt.want {
			t.Errorf("TerminalText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	checkTerminal(t, "TerminalText", TerminalText(hostile))
}

// TestAnnotationEscaping: a registry's error text cannot end a workflow
// command's line, start another, or reach the log as escape sequences;
// the runner's unescaping gives the text back (controls aside).
func TestAnnotationEscaping(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteAnnotations(&buf, []Annotation{{Level: "error", File: "a,b:c.lock", Title: "x:" + hostile, Message: hostile}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "::error file=a%2Cb%3Ac.lock,title=x%3Adenied%0A%3A%3Astop-commands%3A%3Aabc") {
		t.Errorf("annotation:\n%q", out)
	}
	if strings.IndexFunc(out, func(r rune) bool { return isControl(r) && r != '\n' }) >= 0 || !utf8.ValidString(out) {
		t.Errorf("a control character in the annotation:\n%q", out)
	}
	data := out[strings.Index(out[2:], "::")+4 : len(out)-1]
	unescaped := strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%").Replace(data)
	if !strings.HasPrefix(unescaped, "denied\n::stop-commands::abc\n  ::add-mask::secret\n::error file=images.lock,line=1::fake\r") {
		t.Errorf("the runner reads another message back:\n%q", unescaped)
	}
}

// TestApplyViewsEscapeRegistryText: a registry's error text with fake
// workflow commands and escape sequences, through every view of apply.
func TestApplyViewsEscapeRegistryText(t *testing.T) {
	p := samplePlan(t)
	c := changeOf(t, p, "quay.io/minio/minio:latest")
	res := &workspace.ApplyResult{Results: []apply.Result{{Change: c, Duration: time.Second, Err: errors.New(hostile)}}}
	var text, md, js, progress, errOut bytes.Buffer
	if err := WriteApplySummary(&text, res); err != nil {
		t.Fatal(err)
	}
	if err := WriteApplyMarkdown(&md, res, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteApplyJSON(&js, res); err != nil {
		t.Fatal(err)
	}
	NewLineProgress(&progress).Finished(res.Results[0])
	WriteError(&errOut, errors.New("apply: "+hostile))
	for sink, out := range map[string]string{"text": text.String(), "markdown": md.String(), "json": js.String(),
		"progress": progress.String(), "error": errOut.String()} {
		checkTerminal(t, sink, out)
		if !strings.Contains(out, "stop-commands") {
			t.Errorf("%s: the error's text is gone:\n%s", sink, out)
		}
	}
	var doc applyJSON
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.Results[0].Error != strings.ToValidUTF8(hostile, "\ufffd") {
		t.Errorf("the JSON document does not give the error back: %v\n%q", err, doc.Results[0].Error)
	}
}

// TestFailedReferrerAnnotations: issue 19 case 13. An image that landed
// while one of its referrers failed has no error of its own; annotating
// it under GITHUB_ACTIONS=true dereferenced the nil error (exit 2, no
// summary).
func TestFailedReferrerAnnotations(t *testing.T) {
	p := supplyPlan(t)
	nginx := changeOf(t, p, "docker.io/library/nginx:1.27-alpine")
	res := &workspace.ApplyResult{Results: []apply.Result{{Change: nginx, ReferrersCopied: 2, Duration: time.Second,
		ReferrerFailures: []apply.ReferrerFailure{{Artifact: nginx.Referrers[2], Err: errors.New("MANIFEST_INVALID\n::add-mask::x")}}}}}
	as := FailedImageAnnotations(res, nil, "images.lock")
	if len(as) != 1 || !strings.Contains(as[0].Message, "the image landed, but not all its referrers") || !strings.Contains(as[0].Message, "MANIFEST_INVALID") {
		t.Fatalf("annotations = %+v", as)
	}
	var buf bytes.Buffer
	if err := WriteAnnotations(&buf, as); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("the annotation is not one line:\n%s", buf.String())
	}
}

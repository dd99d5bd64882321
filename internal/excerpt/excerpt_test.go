package excerpt

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuote(t *testing.T) {
	environ := "leak:s3cr3t\x00SHELL=/bin/bash\x00HOME=/root\x00" + strings.Repeat("PATH=/usr/bin\x00", 200)
	tests := []struct {
		in, want string
	}{
		{"nginx:1.27", `"nginx:1.27"`},
		{"", `""`},
		{"a\nb\tc\x00d\x1b[31m", `"a\nb\tc\x00d\x1b[31m"`},
		{`say "hi" \o/`, `"say \"hi\" \\o/"`},
		{"bad \xff utf8", `"bad \xff utf8"`},
		{"héllo wörld", `"héllo wörld"`},
		{strings.Repeat("x", MaxQuoted-2), `"` + strings.Repeat("x", MaxQuoted-2) + `"`},
		{strings.Repeat("x", MaxQuoted-1), `"` + strings.Repeat("x", MaxQuoted-2-3-len(" (119 bytes)")) + `..." (119 bytes)`},
		{environ, `"leak:s3cr3t\x00SHELL=/bin/bash\x00HOME=/root\x00PATH=/usr/bin\x00PATH=/usr/bin\x00PATH=/usr/bin\x00PAT..." (2839 bytes)`},
	}
	for _, tt := range tests {
		got := Quote(tt.in)
		if got != tt.want {
			t.Errorf("Quote(%.40q) =\n  %s\nwant\n  %s", tt.in, got, tt.want)
		}
		checkBounded(t, got, MaxQuoted)
		if !strings.HasSuffix(got, `"`) && !strings.HasSuffix(got, " bytes)") {
			t.Errorf("Quote(%.40q) = %s: neither a literal nor a cut one", tt.in, got)
		}
	}
	// What was not cut reads back as the value.
	for _, in := range []string{"a\nb\x00", `"\`, "bad \xff"} {
		if back, err := strconv.Unquote(Quote(in)); err != nil || back != in {
			t.Errorf("Unquote(Quote(%q)) = %q, %v", in, back, err)
		}
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`execution error at (app/templates/x.yaml:1:3): image "a" is required`, `execution error at (app/templates/x.yaml:1:3): image "a" is required`},
		{"line one\nline two\r\x00", `line one\nline two\r\x00`},
		{strings.Repeat("ab", MaxText), strings.Repeat("ab", (MaxText-3)/2) + "a..."},
	}
	for _, tt := range tests {
		got := Text(tt.in)
		if got != tt.want {
			t.Errorf("Text(%.40q) =\n  %s\nwant\n  %s", tt.in, got, tt.want)
		}
		checkBounded(t, got, MaxText)
	}
}

func TestError(t *testing.T) {
	if Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
	err := Error(&fs.PathError{Op: "open", Path: "x\n", Err: fs.ErrNotExist})
	if got := err.Error(); got != `open x\n: file does not exist` {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is does not see the wrapped error")
	}
}

// checkBounded fails when s holds a control character or is longer than max.
func checkBounded(t *testing.T, s string, max int) {
	t.Helper()
	if n := utf8.RuneCountInString(s); n > max {
		t.Errorf("%s: %d characters, more than %d", s, n, max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			t.Errorf("%q holds the control character %U", s, r)
		}
	}
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"nginx", "a\x00b\nc", strings.Repeat("é", 300), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkBounded(t, Quote(s), MaxQuoted)
		checkBounded(t, Text(s), MaxText)
	})
}

func TestReason(t *testing.T) {
	base := errors.New("invalid reference format")
	long := fmt.Errorf("%w: repository name (%s) must be lowercase", base, strings.Repeat("X", 200))
	short := fmt.Errorf("%w: empty", base)
	unwrapped := errors.New("invalid reference format: repository name (" + strings.Repeat("X", 200) + ") must be lowercase")
	for err, want := range map[error]string{long: "invalid reference format", short: "invalid reference format: empty",
		unwrapped: "invalid reference format: repository name", errors.New(strings.Repeat("y", 300)): strings.Repeat("y", MaxQuoted-3) + "..."} {
		got := Reason(err)
		if got.Error() != want || (err != unwrapped && strings.HasPrefix(want, "invalid") && !errors.Is(got, base)) {
			t.Errorf("Reason(%.40q) = %q (is base: %v), want %q", err, got, errors.Is(got, base), want)
		}
	}
	if Reason(nil) != nil {
		t.Error("Reason(nil) is not nil")
	}
}

package imageref

import (
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestParse(t *testing.T) {
	const d = "sha256:2d0ae5a0c6a8a4f3e4c76b8c4f7e0b7a0e2bdbf4d6b5b6f1c0e4e2a3f1e5d6c7"
	tests := []struct {
		in, want   string
		digestOnly bool
		wantErr    bool
	}{
		{in: "nginx", want: "docker.io/library/nginx:latest"},
		{in: "nginx:1.27-alpine", want: "docker.io/library/nginx:1.27-alpine"},
		{in: "osixia/openldap:stable", want: "docker.io/osixia/openldap:stable"},
		{in: "docker.io/library/nginx:1.27", want: "docker.io/library/nginx:1.27"},
		{in: "index.docker.io/library/nginx:1.27", want: "docker.io/library/nginx:1.27"},
		{in: "quay.io/minio/minio", want: "quay.io/minio/minio:latest"},
		{in: "localhost:5000/a/b:c", want: "localhost:5000/a/b:c"},
		{in: "nginx@" + d, want: "docker.io/library/nginx@" + d, digestOnly: true},
		{in: "nginx:1.27@" + d, want: "docker.io/library/nginx:1.27@" + d},
		{in: "", wantErr: true},
		{in: "postgres:", wantErr: true},
		{in: "Nginx", wantErr: true},
		{in: " nginx", wantErr: true},
		{in: "--platform=linux/amd64", wantErr: true},
		{in: "nginx@sha256:abc", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := Parse(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q) = %v, want error", tt.in, r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if r.IsDigestOnly() != tt.digestOnly {
				t.Errorf("IsDigestOnly = %v, want %v", r.IsDigestOnly(), tt.digestOnly)
			}
			again, err := Parse(r.String())
			if err != nil || again != r {
				t.Errorf("round trip: %v, %v", again, err)
			}
		})
	}
}

func TestShortDigest(t *testing.T) {
	for in, want := range map[string]string{
		"sha256:0123456789abcdef0123": "sha256:0123456789ab",
		"sha256:0123456789ab":         "sha256:0123456789ab",
		"":                            "",
		"not-a-digest":                "not-a-digest",
		"(none recorded)":             "(none recorded)",
	} {
		if got := ShortDigest(digest.Digest(in)); got != want {
			t.Errorf("ShortDigest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompare(t *testing.T) {
	a, b := MustParse("alpine"), MustParse("nginx")
	if Compare(a, b) >= 0 || Compare(b, a) <= 0 || Compare(a, a) != 0 || Less(a, b) != (Compare(a, b) < 0) {
		t.Errorf("Compare disagrees with Less")
	}
}

// TestParseErrorExcerpt: an invalid reference is quoted escaped and cut,
// the parser's own message too: a value read through a link to
// /proc/self/environ once printed the whole environment here.
func TestParseErrorExcerpt(t *testing.T) {
	environ := "leak:s3cr3t\x00SHELL=/bin/bash\x00" + strings.Repeat("CI_SECRET_TOKEN=abcdef\x00", 100)
	for _, s := range []string{environ, "Leak:" + strings.Repeat("A", 500), " " + environ} {
		_, err := Parse(s)
		if err == nil {
			t.Fatalf("Parse(%.20q) gave no error", s)
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\x00\n") || len(msg) > 400 || strings.Count(msg, "CI_SECRET_TOKEN") > 6 {
			t.Errorf("the error is not a bounded, escaped excerpt (%d bytes): %q", len(msg), msg)
		}
		if !strings.HasPrefix(msg, `invalid image reference "`) {
			t.Errorf("error %q", msg)
		}
	}
}

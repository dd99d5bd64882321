package config

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/imageref"
)

// TestScopePolicies resolves each image's referrers policy and platform
// choice of testdata/valid/scope.hcl: image blocks over the top level
// over the defaults, attribute by attribute.
func TestScopePolicies(t *testing.T) {
	cfg, diags := Load(hclparse.NewParser(), "testdata/valid/scope.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	bundle := "application/vnd.dev.sigstore.bundle.v0.3+json"
	tests := []struct {
		ref                  string
		enabled              bool
		types                string // "*": every type
		platforms            string
		mode                 PlatformMode
		perSubject, perImage int
	}{
		{"memcached:1.6", true, bundle, "linux/amd64,linux/arm64", PlatformSparse, DefaultReferrersPerSubject, 100},
		{"nginx:1.27", false, bundle, "linux/amd64,linux/arm64", PlatformFilter, DefaultReferrersPerSubject, 100},
		{"redis:7", true, bundle, "", "", DefaultReferrersPerSubject, 100},
		{"postgres:16", true, "", "linux/amd64", PlatformSparse, 8, 100},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			ref := imageref.MustParse(tt.ref)
			p := cfg.ReferrersFor(ref)
			types := "*"
			if p.ArtifactTypes != nil {
				types = strings.Join(p.ArtifactTypes, ",")
			}
			if p.Enabled != tt.enabled || types != tt.types || p.MaxPerSubject != tt.perSubject || p.MaxPerImage != tt.perImage {
				t.Errorf("referrers = %+v, want enabled %v types %q limits %d %d", p, tt.enabled, tt.types, tt.perSubject, tt.perImage)
			}
			c := cfg.PlatformsFor(ref)
			if strings.Join(c.Platforms, ",") != tt.platforms || c.Mode != tt.mode {
				t.Errorf("platforms = %+v, want %q %q", c, tt.platforms, tt.mode)
			}
		})
	}
}

func TestScopeDefaults(t *testing.T) {
	cfg, diags := Parse(hclparse.NewParser(), "images.hcl", t.TempDir(), []byte(`target {
  registry  = "r.example.com"
  platforms = ["linux/amd64"]
}
`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ref := imageref.MustParse("nginx")
	if p := cfg.ReferrersFor(ref); !p.Enabled || p.ArtifactTypes != nil || !p.Allows("anything/at-all") ||
		p.MaxPerSubject != 64 || p.MaxPerImage != 256 {
		t.Errorf("default referrers policy = %+v", p)
	}
	if c := cfg.PlatformsFor(ref); c.Mode != PlatformFilter || strings.Join(c.Platforms, ",") != "linux/amd64" {
		t.Errorf("default platform mode = %+v", c)
	}
	off := ReferrersPolicy{Enabled: false}
	some := ReferrersPolicy{Enabled: true, ArtifactTypes: []string{"a/b"}}
	none := ReferrersPolicy{Enabled: true, ArtifactTypes: []string{}}
	if off.Allows("a/b") || !some.Allows("a/b") || some.Allows("a/c") || none.Allows("a/b") {
		t.Error("Allows is wrong")
	}
}

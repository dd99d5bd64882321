// Package imageref normalizes container image references the way docker
// does, so that every other package compares and prints one canonical form
// ("nginx" is "docker.io/library/nginx:latest").
package imageref

import (
	// distribution/reference only accepts sha256 digests when the hash is
	// linked into the binary.
	_ "crypto/sha256"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/excerpt"
)

// Ref is a normalized image reference: always a domain and a full path, and
// a tag unless the reference is pinned by digest only. The zero Ref is
// invalid; obtain one from Parse.
type Ref struct {
	domain string
	path   string
	tag    string
	digest digest.Digest
}

// Parse normalizes s like docker does: the default domain is docker.io,
// official images live under library/, and a reference with neither tag nor
// digest gets the tag "latest". A reference with both a tag and a digest
// keeps both.
func Parse(s string) (Ref, error) {
	return parse(s, true)
}

// ParseName is Parse without the default tag: a reference with neither tag
// nor digest stays a bare repository name (IsNameOnly reports it).
func ParseName(s string) (Ref, error) {
	return parse(s, false)
}

func parse(s string, defaultTag bool) (Ref, error) {
	if strings.TrimSpace(s) != s || s == "" {
		return Ref{}, fmt.Errorf("invalid image reference %s: empty or surrounded by spaces", excerpt.Quote(s))
	}
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		// The parser's message may repeat s: only a short reason follows the excerpt.
		return Ref{}, fmt.Errorf("invalid image reference %s: %w", excerpt.Quote(s), excerpt.Reason(err))
	}
	if defaultTag {
		named = reference.TagNameOnly(named)
	}
	r := Ref{domain: reference.Domain(named), path: reference.Path(named)}
	if t, ok := named.(reference.Tagged); ok {
		r.tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		r.digest = d.Digest()
	}
	return r, nil
}

// MustParse is Parse for references known to be valid, such as constants in
// tests; it panics on error.
func MustParse(s string) Ref {
	r, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return r
}

// Domain is the registry host, with its port if any ("docker.io", "quay.io").
func (r Ref) Domain() string { return r.domain }

// Path is the repository path within the registry ("library/nginx").
func (r Ref) Path() string { return r.path }

// Repository is domain and path ("docker.io/library/nginx").
func (r Ref) Repository() string { return r.domain + "/" + r.path }

// Tag is the tag, or "" for a reference pinned by digest only.
func (r Ref) Tag() string { return r.tag }

// Digest is the pinned digest, or "" when the reference is not pinned.
func (r Ref) Digest() digest.Digest { return r.digest }

// IsZero reports whether r is the zero Ref.
func (r Ref) IsZero() bool { return r.domain == "" }

// IsDigestOnly reports whether r names its image by digest and not by tag.
func (r Ref) IsDigestOnly() bool { return r.digest != "" && r.tag == "" }

// IsNameOnly reports whether r has neither tag nor digest (only possible
// for a Ref from ParseName).
func (r Ref) IsNameOnly() bool { return r.tag == "" && r.digest == "" }

// IsPinned reports whether r carries a digest.
func (r Ref) IsPinned() bool { return r.digest != "" }

// String is the canonical form: domain/path[:tag][@digest].
func (r Ref) String() string {
	if r.IsZero() {
		return ""
	}
	var b strings.Builder
	b.WriteString(r.domain)
	b.WriteByte('/')
	b.WriteString(r.path)
	if r.tag != "" {
		b.WriteByte(':')
		b.WriteString(r.tag)
	}
	if r.digest != "" {
		b.WriteByte('@')
		b.WriteString(r.digest.String())
	}
	return b.String()
}

// WithDigest returns r pinned to d, keeping its tag.
func (r Ref) WithDigest(d digest.Digest) Ref {
	r.digest = d
	return r
}

// WithoutDigest returns r without its digest; a digest-only reference
// becomes invalid, so callers check IsDigestOnly first.
func (r Ref) WithoutDigest() Ref {
	r.digest = ""
	return r
}

// Less orders references by their canonical form, for deterministic output.
func Less(a, b Ref) bool { return a.String() < b.String() }

// Compare is Less as a three-way comparison, for slices.SortFunc.
func Compare(a, b Ref) int { return strings.Compare(a.String(), b.String()) }

// ShortDigest abbreviates a digest to its algorithm and 12 hex digits, as
// docker prints image IDs; anything else is returned as it is.
func ShortDigest(d digest.Digest) string {
	if algo, hex, ok := strings.Cut(string(d), ":"); ok && len(hex) > 12 {
		return algo + ":" + hex[:12]
	}
	return string(d)
}

// LooksLikeHost reports whether the first element of a slash-separated
// reference names a registry host rather than a repository path, using
// docker's rule: it contains a dot or a colon, or is "localhost".
func LooksLikeHost(first string) bool {
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

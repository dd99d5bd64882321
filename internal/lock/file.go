package lock

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/opencontainers/go-digest"
	"github.com/zclconf/go-cty/cty"

	"github.com/imagesync/imagesync/internal/atomicfile"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/repofs"
)

const header = `# This file is maintained automatically by "imagesync lock".
# Manual edits may be lost in future updates.
`

// File is a lockfile as read from disk: the model and the exact bytes,
// whose sha256 saved plans record.
type File struct {
	Lock   *Lock
	Source []byte
}

// Sum is the sha256 of the lockfile's bytes; saved plans record it so that
// apply can refuse a plan made from another lock.
func (f *File) Sum() digest.Digest { return digest.FromBytes(f.Source) }

// Load reads a lockfile. A missing file is (nil, nil): there is no lock
// yet. A file that cannot be read or parsed gives error diagnostics (with
// source ranges where there are any); the parser keeps the source for
// rendering them. The file is read under the repository's rule
// (internal/repofs): a link out of its directory, a special file or a
// file over the size cap is refused before a line of it is shown.
func Load(p *hclparse.Parser, filename string) (*File, hcl.Diagnostics) {
	src, err := repofs.ReadFileIn(filename, repofs.DefaultMaxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the lockfile", Detail: err.Error()}}
	}
	l, diags := Parse(p, filename, src)
	if diags.HasErrors() {
		return nil, diags
	}
	return &File{Lock: l, Source: src}, diags
}

var rootSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "image", LabelNames: []string{"reference"}},
	{Type: "build", LabelNames: []string{"reference"}},
}}

var imageSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "digest", Required: true}, {Name: "media_type", Required: true}, {Name: "platforms"},
	{Name: "target", Required: true}, {Name: "sources"},
	{Name: "platform_mode"}, {Name: "mirrored_platforms"}, {Name: "target_digest"}, {Name: "manifests"},
}, Blocks: []hcl.BlockHeaderSchema{{Type: "referrer", LabelNames: []string{"digest"}}}}

var buildSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "service"}, {Name: "services"}, {Name: "context", Required: true}, {Name: "dockerfile", Required: true},
	{Name: "target_stage"}, {Name: "bases"}, {Name: "target", Required: true}, {Name: "inputs", Required: true},
}}

// Parse decodes lockfile source. It never panics on hand-edited or
// corrupted input: everything wrong is a diagnostic.
func Parse(p *hclparse.Parser, filename string, src []byte) (*Lock, hcl.Diagnostics) {
	file, diags := p.ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, diags
	}
	content, more := file.Body.Content(rootSchema)
	diags = append(diags, more...)
	d := &decoder{diags: diags}
	l := &Lock{}
	seen := map[string]hcl.Range{}
	for _, block := range content.Blocks {
		ref, ok := d.label(block, seen)
		if !ok {
			continue
		}
		if block.Type == "image" {
			l.Images = append(l.Images, d.image(block, ref))
		} else {
			l.Builds = append(l.Builds, d.build(block, ref))
		}
	}
	if d.diags.HasErrors() {
		return nil, d.diags
	}
	l.Normalize()
	return l, d.diags
}

type decoder struct{ diags hcl.Diagnostics }

func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
		Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr()})
}

func (d *decoder) label(block *hcl.Block, seen map[string]hcl.Range) (imageref.Ref, bool) {
	ref, err := imageref.Parse(block.Labels[0])
	if err != nil || ref.String() != block.Labels[0] {
		if err == nil {
			err = fmt.Errorf("write it in canonical form, %q", ref.String())
		}
		d.errorf(block.LabelRanges[0], "Invalid reference in lockfile", "%v.", err)
		return ref, false
	}
	if prev, ok := seen[ref.String()]; ok {
		d.errorf(block.LabelRanges[0], "Duplicate entry in lockfile", "%s is already locked at %s.", ref, prev)
		return ref, false
	}
	seen[ref.String()] = block.DefRange
	return ref, true
}

func (d *decoder) string(attrs hcl.Attributes, name string) string {
	attr, ok := attrs[name]
	if !ok {
		return ""
	}
	var s string
	d.diags = append(d.diags, gohcl.DecodeExpression(attr.Expr, nil, &s)...)
	return s
}

func (d *decoder) strings(attrs hcl.Attributes, name string) []string {
	attr, ok := attrs[name]
	if !ok {
		return nil
	}
	var s []string
	d.diags = append(d.diags, gohcl.DecodeExpression(attr.Expr, nil, &s)...)
	return s
}

func (d *decoder) digest(attrs hcl.Attributes, name string) digest.Digest {
	attr, ok := attrs[name]
	if !ok {
		return ""
	}
	s := d.string(attrs, name)
	dg, err := digest.Parse(s)
	if err == nil && dg.Algorithm() != digest.SHA256 {
		err = fmt.Errorf("only sha256 digests are used")
	}
	if err != nil {
		d.errorf(attr.Expr.Range(), "Invalid digest in lockfile", "%q: %v.", s, err)
	}
	return dg
}

func (d *decoder) ref(attrs hcl.Attributes, name string) imageref.Ref {
	attr, ok := attrs[name]
	if !ok {
		return imageref.Ref{}
	}
	s := d.string(attrs, name)
	r, err := imageref.Parse(s)
	if err != nil {
		d.errorf(attr.Expr.Range(), "Invalid reference in lockfile", "%v.", err)
	}
	return r
}

func (d *decoder) image(block *hcl.Block, ref imageref.Ref) Image {
	content, diags := block.Body.Content(imageSchema)
	d.diags = append(d.diags, diags...)
	a := content.Attributes
	img := Image{Ref: ref, Digest: d.digest(a, "digest"), MediaType: d.string(a, "media_type"),
		Platforms: d.strings(a, "platforms"), Target: d.ref(a, "target"), Sources: d.strings(a, "sources")}
	if ref.IsPinned() && img.Digest != "" && img.Digest != ref.Digest() {
		d.errorf(a["digest"].Expr.Range(), "Digest does not match reference",
			"%s is pinned to %s in its reference, but the lock says %s.", ref, ref.Digest(), img.Digest)
	}
	d.imageScope(content, &img)
	img.Manifests = d.manifests(a)
	return img
}

func (d *decoder) build(block *hcl.Block, ref imageref.Ref) Build {
	content, diags := block.Body.Content(buildSchema)
	d.diags = append(d.diags, diags...)
	a := content.Attributes
	b := Build{Ref: ref, Services: d.services(a), Context: d.string(a, "context"),
		Dockerfile: d.string(a, "dockerfile"), TargetStage: d.string(a, "target_stage"),
		Target: d.ref(a, "target"), Inputs: d.digest(a, "inputs")}
	for _, s := range d.strings(a, "bases") {
		r, err := imageref.Parse(s)
		if err != nil {
			d.errorf(a["bases"].Expr.Range(), "Invalid reference in lockfile", "%v.", err)
			continue
		}
		b.Bases = append(b.Bases, r)
	}
	return b
}

// manifests reads an image's manifests count: 1 to the most a graph may
// hold, 0 when absent.
func (d *decoder) manifests(a hcl.Attributes) int {
	attr, ok := a["manifests"]
	if !ok {
		return 0
	}
	var n int
	d.diags = append(d.diags, gohcl.DecodeExpression(attr.Expr, nil, &n)...)
	if n < 1 || n > registry.MaxManifestsPerImage {
		d.errorf(attr.Expr.Range(), "Invalid manifests count in lockfile", "manifests counts the manifests of the image: 1 to %d, not %d.", registry.MaxManifestsPerImage, n)
		return 0
	}
	return n
}

// services reads a build's services: `service = "x"`, as every lock
// writes a build of one service, or `services = [...]` for several.
func (d *decoder) services(a hcl.Attributes) []string {
	one, hasOne := a["service"]
	many, hasMany := a["services"]
	switch {
	case hasOne && hasMany:
		d.errorf(many.NameRange, "Conflicting attributes in lockfile",
			"A build has either service (one) or services (several), not both; service is at %s.", one.NameRange)
		return nil
	case hasOne:
		return []string{d.string(a, "service")}
	}
	list := d.strings(a, "services")
	if hasMany && len(list) == 0 {
		d.errorf(many.Expr.Range(), "Empty services in lockfile", "services lists the compose services that build the image; it cannot be empty.")
	}
	return list
}

// Format renders a lock deterministically: header, image blocks then build
// blocks sorted by reference, sorted lists, LF line endings, a trailing
// newline, nothing that depends on time or the tool's version.
func Format(l *Lock) []byte {
	sorted := *l
	sorted.Images = append([]Image(nil), l.Images...)
	sorted.Builds = append([]Build(nil), l.Builds...)
	sorted.Normalize()

	f := hclwrite.NewEmptyFile()
	body := f.Body()
	for _, img := range sorted.Images {
		body.AppendNewline()
		b := body.AppendNewBlock("image", []string{img.Ref.String()}).Body()
		b.SetAttributeValue("digest", cty.StringVal(img.Digest.String()))
		b.SetAttributeValue("media_type", cty.StringVal(img.MediaType))
		b.SetAttributeValue("target", cty.StringVal(img.Target.String()))
		b.SetAttributeRaw("platforms", listTokens(img.Platforms))
		if img.Manifests > 0 {
			b.SetAttributeValue("manifests", cty.NumberIntVal(int64(img.Manifests)))
		}
		b.SetAttributeRaw("sources", listTokens(img.Sources))
		formatScope(b, &img)
	}
	for _, bl := range sorted.Builds {
		body.AppendNewline()
		b := body.AppendNewBlock("build", []string{bl.Ref.String()}).Body()
		// One service keeps the attribute locks have always had, so that
		// they do not churn; services that share a build are a list.
		switch services := slices.Compact(slices.Sorted(slices.Values(bl.Services))); len(services) {
		case 0:
		case 1:
			b.SetAttributeValue("service", cty.StringVal(services[0]))
		default:
			b.SetAttributeRaw("services", listTokens(services))
		}
		b.SetAttributeValue("context", cty.StringVal(bl.Context))
		b.SetAttributeValue("dockerfile", cty.StringVal(bl.Dockerfile))
		if bl.TargetStage != "" {
			b.SetAttributeValue("target_stage", cty.StringVal(bl.TargetStage))
		}
		b.SetAttributeValue("target", cty.StringVal(bl.Target.String()))
		b.SetAttributeValue("inputs", cty.StringVal(bl.Inputs.String()))
		bases := make([]string, len(bl.Bases))
		for i, r := range bl.Bases {
			bases[i] = r.String()
		}
		b.SetAttributeRaw("bases", listTokens(bases))
	}
	var buf bytes.Buffer
	buf.WriteString(header)
	buf.Write(hclwrite.Format(f.Bytes()))
	return buf.Bytes()
}

// listTokens writes a list one element per line, so that a change to one
// element is a one-line diff in review.
func listTokens(items []string) hclwrite.Tokens {
	if len(items) == 0 {
		return hclwrite.Tokens{
			{Type: hclsyntax.TokenOBrack, Bytes: []byte("[")},
			{Type: hclsyntax.TokenCBrack, Bytes: []byte("]")},
		}
	}
	toks := hclwrite.Tokens{
		{Type: hclsyntax.TokenOBrack, Bytes: []byte("[")},
		{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")},
	}
	for _, item := range items {
		toks = append(toks, hclwrite.TokensForValue(cty.StringVal(item))...)
		toks = append(toks,
			&hclwrite.Token{Type: hclsyntax.TokenComma, Bytes: []byte(",")},
			&hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")})
	}
	return append(toks, &hclwrite.Token{Type: hclsyntax.TokenCBrack, Bytes: []byte("]")})
}

// WriteFile writes data to filename atomically: a temporary file in the
// same directory, synced, then renamed over the old one, so that a crash or
// a failed run never leaves a torn lockfile.
func WriteFile(filename string, data []byte) error {
	return atomicfile.Write(filename, data)
}

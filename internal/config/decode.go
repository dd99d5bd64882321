package config

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/repofs"
)

var rootSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "exclude"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "target"},
		{Type: "discover"},
		{Type: "builder"},
		{Type: "render"},
		{Type: "registry", LabelNames: []string{"host"}},
		{Type: "image", LabelNames: []string{"reference"}},
		{Type: "referrers"},
	},
}

var targetSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "registry", Required: true}, {Name: "layout"},
		{Name: "platforms"}, {Name: "platform_mode"}},
}

var discoverSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "compose"}, {Name: "env_files"}, {Name: "env"}, {Name: "use_os_env"},
		{Name: "dockerfiles"}, {Name: "exclude"}, {Name: "build_args"}, {Name: "dockerfile_targets"},
		{Name: "kubernetes"}, {Name: "kustomize"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "helm", LabelNames: []string{"name"}},
		{Type: "compose_project", LabelNames: []string{"name"}},
	},
}

var builderSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "kind"}, {Name: "platforms"}, {Name: "args"}},
}

var registrySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "mirrors"}, {Name: "insecure"}, {Name: "ca_file"}},
}

var imageSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "target"}, {Name: "platforms"}, {Name: "platform_mode"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "referrers"}},
}

// Load reads and decodes the config file at filename. The parser keeps the
// file's source so that callers can render the diagnostics with snippets.
// The returned Config is nil when the diagnostics hold an error. The file
// is read under the repository's rule (internal/repofs): a link out of its
// directory, a special file or a file over the size cap is refused
// before a line of it is shown anywhere.
func Load(p *hclparse.Parser, filename string) (*Config, hcl.Diagnostics) {
	src, err := repofs.ReadFileIn(filename, repofs.DefaultMaxFileSize)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read config file",
			Detail:   fmt.Sprintf("Reading %s: %v.", filename, err),
		}}
	}
	dir, err := filepath.Abs(filepath.Dir(filename))
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot locate config file", Detail: err.Error()}}
	}
	return Parse(p, filename, dir, src)
}

// Parse decodes config source; dir is the directory relative paths are
// resolved against.
func Parse(p *hclparse.Parser, filename, dir string, src []byte) (*Config, hcl.Diagnostics) {
	file, diags := p.ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, diags
	}
	content, moreDiags := file.Body.Content(rootSchema)
	diags = append(diags, moreDiags...)

	d := &decoder{cfg: &Config{Filename: filename, Dir: dir, Registries: map[string]*Registry{}}}
	d.root(content, file.Body)
	diags = append(diags, d.diags...)
	if diags.HasErrors() {
		return nil, diags
	}
	return d.cfg, diags
}

// decoder accumulates diagnostics while filling in a Config.
type decoder struct {
	cfg   *Config
	diags hcl.Diagnostics
}

func (d *decoder) errorf(rng *hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  rng,
	})
}

func (d *decoder) decode(attr *hcl.Attribute, val any) bool {
	diags := gohcl.DecodeExpression(attr.Expr, nil, val)
	d.diags = append(d.diags, diags...)
	return !diags.HasErrors()
}

func (d *decoder) root(content *hcl.BodyContent, body hcl.Body) {
	seen := map[string]*hcl.Block{}
	images := map[imageref.Ref]*hcl.Block{}
	for _, block := range content.Blocks {
		switch block.Type {
		case "target", "discover", "builder", "render":
			if prev := seen[block.Type]; prev != nil {
				d.errorf(&block.DefRange, "Duplicate "+block.Type+" block",
					"Only one %s block is allowed; the first one is at %s.", block.Type, prev.DefRange)
				continue
			}
			seen[block.Type] = block
			switch block.Type {
			case "target":
				d.target(block)
			case "discover":
				d.discover(block)
			case "render":
				d.render(block)
			default:
				d.builder(block)
			}
		case "registry":
			d.registry(block)
		case "image":
			d.image(block, images)
		}
	}
	if seen["builder"] == nil {
		d.cfg.Builder = Builder{Kind: "buildx", Range: body.MissingItemRange()}
	}
	if seen["target"] == nil {
		rng := body.MissingItemRange()
		d.errorf(&rng, "Missing target block",
			`images.hcl needs a target block naming the registry images are mirrored to, e.g. target { registry = "registry.example.com/team" }.`)
	}
	if attr, ok := content.Attributes["exclude"]; ok {
		d.cfg.Exclude = d.patterns(attr, false)
	}
	d.cfg.Referrers = d.referrersBlocks(content.Blocks)
	d.checkPlatformModes(d.cfg.Target.modeRange)
}

func (d *decoder) target(block *hcl.Block) {
	content, diags := block.Body.Content(targetSchema)
	d.diags = append(d.diags, diags...)
	t := &d.cfg.Target
	t.Layout = LayoutNested
	if attr, ok := content.Attributes["registry"]; ok {
		t.Range = attr.Expr.Range()
		if d.decode(attr, &t.Registry) {
			if err := validateTargetRegistry(t.Registry); err != nil {
				d.errorf(&t.Range, "Invalid target registry", "%s", err)
			}
			t.Registry = strings.TrimSuffix(t.Registry, "/")
		}
	}
	if attr, ok := content.Attributes["layout"]; ok {
		var layout string
		if d.decode(attr, &layout) {
			switch Layout(layout) {
			case LayoutNested, LayoutFlat:
				t.Layout = Layout(layout)
			default:
				d.errorf(attr.Expr.Range().Ptr(), "Invalid layout", `layout must be "nested" or "flat", not %q.`, layout)
			}
		}
	}
	t.Platforms, t.PlatformMode = d.platformChoice(content.Attributes)
	if attr, ok := content.Attributes["platform_mode"]; ok {
		t.modeRange = attr.Expr.Range()
	}
}

func validateTargetRegistry(reg string) error {
	if strings.Contains(reg, "://") {
		return fmt.Errorf("%q must be host[:port][/namespace...] without a scheme", reg)
	}
	host, _ := splitHost(strings.TrimSuffix(reg, "/"))
	if !imageref.LooksLikeHost(host) {
		return fmt.Errorf("%q must start with a registry host (with a dot or a port, or localhost), e.g. registry.example.com/team", reg)
	}
	if _, err := imageref.Parse(strings.TrimSuffix(reg, "/") + "/x:y"); err != nil {
		return fmt.Errorf("%q is not a valid registry and namespace: %v", reg, err)
	}
	return nil
}

func (d *decoder) discover(block *hcl.Block) {
	content, diags := block.Body.Content(discoverSchema)
	d.diags = append(d.diags, diags...)
	ds := &d.cfg.Discover
	if attr, ok := content.Attributes["compose"]; ok {
		ds.Compose = d.paths(attr)
	}
	if attr, ok := content.Attributes["env_files"]; ok {
		ds.EnvFiles = d.paths(attr)
	}
	if attr, ok := content.Attributes["env"]; ok {
		d.decode(attr, &ds.Env)
	}
	if attr, ok := content.Attributes["use_os_env"]; ok {
		d.decode(attr, &ds.UseOSEnv)
	}
	if attr, ok := content.Attributes["dockerfiles"]; ok {
		ds.Dockerfiles = d.patterns(attr, true)
	}
	if attr, ok := content.Attributes["exclude"]; ok {
		ds.Exclude = d.patterns(attr, true)
	}
	if attr, ok := content.Attributes["build_args"]; ok {
		d.decode(attr, &ds.BuildArgs)
	}
	if attr, ok := content.Attributes["dockerfile_targets"]; ok {
		ds.DockerfileTargets = d.dockerfileTargets(attr)
	}
	if attr, ok := content.Attributes["kubernetes"]; ok {
		ds.Kubernetes = d.patterns(attr, true)
	}
	if attr, ok := content.Attributes["kustomize"]; ok {
		d.kustomizeDirs(attr)
	}
	releases := map[string]*HelmRelease{}
	projects := map[string]*ComposeProject{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "helm":
			d.helm(b, releases)
		case "compose_project":
			d.composeProject(b, projects)
		}
	}
	d.checkComposeSettings(content)
}

// dockerfileTargets decodes discover.dockerfile_targets, a map from a
// Dockerfile path to a stage name, keeping each key's range so that
// discovery can point at an entry that matches no scanned Dockerfile.
func (d *decoder) dockerfileTargets(attr *hcl.Attribute) map[string]DockerfileTarget {
	out := map[string]DockerfileTarget{}
	for _, p := range d.stringPairs(attr) {
		rng, file, stage := p.KeyRange, p.Key, p.Value
		if err := insideRepo(file); err != nil {
			d.errorf(&rng, "Path outside the repository", "%q %s.", file, err)
			continue
		}
		if strings.TrimSpace(stage) == "" {
			d.errorf(&p.ValueRange, "Invalid Dockerfile target", "The target stage of %q is empty; name a stage of the Dockerfile, or leave the file out to count every stage.", file)
			continue
		}
		key := path.Clean(filepath.ToSlash(file))
		if prev, ok := out[key]; ok {
			d.errorf(&rng, "Duplicate Dockerfile target", "%q already has a target at %s.", key, prev.Range)
			continue
		}
		out[key] = DockerfileTarget{Stage: stage, Range: rng}
	}
	return out
}

func (d *decoder) builder(block *hcl.Block) {
	content, diags := block.Body.Content(builderSchema)
	d.diags = append(d.diags, diags...)
	b := &d.cfg.Builder
	b.Kind, b.Range = "buildx", block.DefRange
	if attr, ok := content.Attributes["kind"]; ok {
		if d.decode(attr, &b.Kind) && b.Kind != "buildx" && b.Kind != "buildah" {
			d.errorf(attr.Expr.Range().Ptr(), "Invalid builder kind", `kind must be "buildx" or "buildah", not %q.`, b.Kind)
		}
	}
	if attr, ok := content.Attributes["platforms"]; ok && d.decode(attr, &b.Platforms) {
		for _, p := range b.Platforms {
			if err := validatePlatform(p); err != nil {
				d.errorf(attr.Expr.Range().Ptr(), "Invalid platform", "%s", err)
			}
		}
	}
	if attr, ok := content.Attributes["args"]; ok {
		d.decode(attr, &b.Args)
	}
}

// validatePlatform checks os/arch[/variant].
func validatePlatform(p string) error {
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("%q is not os/arch[/variant], e.g. \"linux/amd64\"", p)
	}
	for _, part := range parts {
		if part == "" || strings.ToLower(part) != part || strings.ContainsAny(part, " \t,") {
			return fmt.Errorf("%q is not os/arch[/variant], e.g. \"linux/amd64\"", p)
		}
	}
	return nil
}

// paths decodes a list of file paths that must stay inside the repository.
func (d *decoder) paths(attr *hcl.Attribute) []string {
	var list []string
	if !d.decode(attr, &list) {
		return nil
	}
	if list == nil {
		list = []string{} // an explicit empty list disables the default
	}
	for _, p := range list {
		if err := insideRepo(p); err != nil {
			d.errorf(attr.Expr.Range().Ptr(), "Path outside the repository", "%q %s.", p, err)
		}
	}
	return list
}

func (d *decoder) patterns(attr *hcl.Attribute, isPath bool) []Pattern {
	var list []string
	if !d.decode(attr, &list) {
		return nil
	}
	rng := attr.Expr.Range()
	out := make([]Pattern, 0, len(list))
	for _, glob := range list {
		if !doublestar.ValidatePattern(glob) {
			d.errorf(&rng, "Invalid glob", "%q is not a valid glob pattern.", glob)
			continue
		}
		if isPath {
			if err := insideRepo(glob); err != nil {
				d.errorf(&rng, "Path outside the repository", "%q %s.", glob, err)
				continue
			}
		}
		out = append(out, Pattern{Glob: glob, Range: rng})
	}
	return out
}

// insideRepo refuses paths that would make imagesync read files outside
// the repository.
func insideRepo(p string) error {
	if p == "" {
		return fmt.Errorf("is empty")
	}
	slash := filepath.ToSlash(p)
	if path.IsAbs(slash) || filepath.IsAbs(p) {
		return fmt.Errorf("is absolute; paths are relative to the directory of images.hcl")
	}
	if c := path.Clean(slash); c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("leaves the directory of images.hcl")
	}
	return nil
}

func (d *decoder) registry(block *hcl.Block) {
	host := block.Labels[0]
	labelRange := block.LabelRanges[0]
	if prev, ok := d.cfg.Registries[host]; ok {
		d.errorf(&labelRange, "Duplicate registry block", "Registry %q is already configured at %s.", host, prev.Range)
		return
	}
	if err := validateHost(host); err != nil {
		d.errorf(&labelRange, "Invalid registry host", "%s", err)
		return
	}
	r := &Registry{Host: host, Range: block.DefRange}
	d.cfg.Registries[host] = r

	content, diags := block.Body.Content(registrySchema)
	d.diags = append(d.diags, diags...)
	if attr, ok := content.Attributes["mirrors"]; ok {
		var urls []string
		if d.decode(attr, &urls) {
			for _, u := range urls {
				m, err := parseMirror(u)
				if err != nil {
					d.errorf(attr.Expr.Range().Ptr(), "Invalid mirror", "%s", err)
					continue
				}
				r.Mirrors = append(r.Mirrors, m)
			}
		}
	}
	if attr, ok := content.Attributes["insecure"]; ok {
		d.decode(attr, &r.Insecure)
	}
	if attr, ok := content.Attributes["ca_file"]; ok {
		var ca string
		if d.decode(attr, &ca) {
			r.CAFile = d.cfg.Path(ca)
			if _, err := os.Stat(r.CAFile); err != nil {
				d.errorf(attr.Expr.Range().Ptr(), "Cannot read ca_file", "%v.", err)
			}
		}
	}
}

// validateHost checks a registry block label: host[:port], the domain part
// of a reference, written as docker writes it.
func validateHost(host string) error {
	switch host {
	case "index.docker.io", "registry-1.docker.io":
		return fmt.Errorf("write %q as \"docker.io\", the name references use", host)
	}
	r, err := imageref.Parse(host + "/x:y")
	if err != nil || r.Domain() != host || !imageref.LooksLikeHost(host) {
		return fmt.Errorf("%q is not a registry host[:port] such as \"docker.io\" or \"registry.example.com:5000\"", host)
	}
	return nil
}

func parseMirror(raw string) (Mirror, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Mirror{}, fmt.Errorf("mirror %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Mirror{}, fmt.Errorf("mirror %q must be an http:// or https:// URL", raw)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Mirror{}, fmt.Errorf("mirror %q must be scheme://host[:port][/path], without credentials, query or fragment", raw)
	}
	prefix := strings.Trim(u.Path, "/")
	if _, err := imageref.Parse(u.Host + "/" + path.Join(prefix, "x") + ":y"); err != nil {
		return Mirror{}, fmt.Errorf("mirror %q: %v", raw, err)
	}
	return Mirror{URL: raw, Host: u.Host, Prefix: prefix, Insecure: u.Scheme == "http"}, nil
}

func (d *decoder) image(block *hcl.Block, seen map[imageref.Ref]*hcl.Block) {
	labelRange := block.LabelRanges[0]
	ref, err := imageref.Parse(block.Labels[0])
	if err != nil {
		d.errorf(&labelRange, "Invalid image reference", "%s.", err)
		return
	}
	if prev, ok := seen[ref]; ok {
		d.errorf(&labelRange, "Duplicate image block", "%s is already declared at %s.", ref, prev.DefRange)
		return
	}
	seen[ref] = block
	img := &Image{Ref: ref, Range: block.DefRange}
	content, diags := block.Body.Content(imageSchema)
	d.diags = append(d.diags, diags...)
	if attr, ok := content.Attributes["target"]; ok {
		img.TargetRange = attr.Expr.Range()
		if d.decode(attr, &img.Target) {
			if err := validateOverride(img.Target); err != nil {
				d.errorf(&img.TargetRange, "Invalid image target", "%s", err)
			}
		}
	}
	img.Platforms, img.PlatformMode = d.platformChoice(content.Attributes)
	img.Referrers = d.referrersBlocks(content.Blocks)
	d.cfg.Images = append(d.cfg.Images, img)
}

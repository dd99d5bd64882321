package config

import (
	"regexp"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/imagesync/imagesync/internal/imageref"
)

// Render is the render block: what `imagesync render` writes for the
// deployments that run the stack from the target registry.
type Render struct {
	// Env are the variables `imagesync render env` writes, one per locked
	// image, in the order images.hcl lists them.
	Env   []EnvImage
	Range hcl.Range // of the block; zero when images.hcl has none
}

// EnvImage is an entry of render.env: a variable that a compose file or a
// script reads an image reference from (image: ${REDIS_IMAGE}).
type EnvImage struct {
	Name string
	Ref  imageref.Ref // as images.lock names it (canonical)
	// Range is the entry's value, for diagnostics about the image, e.g.
	// one that images.lock does not hold.
	Range hcl.Range
}

var renderSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "env"}},
}

// envName is a variable name every shell and docker compose's .env reader
// accept.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (d *decoder) render(block *hcl.Block) {
	content, diags := block.Body.Content(renderSchema)
	d.diags = append(d.diags, diags...)
	d.cfg.Render.Range = block.DefRange
	if attr, ok := content.Attributes["env"]; ok {
		d.cfg.Render.Env = d.renderEnv(attr)
	}
}

// renderEnv decodes render.env, a map from a variable name to an image
// reference, keeping each entry's place for diagnostics.
func (d *decoder) renderEnv(attr *hcl.Attribute) []EnvImage {
	pairs, diags := hcl.ExprMap(attr.Expr)
	d.diags = append(d.diags, diags...)
	var out []EnvImage
	seen := map[string]hcl.Range{}
	for _, kv := range pairs {
		keyRange := kv.Key.Range()
		var name, ref string
		keyDiags := gohcl.DecodeExpression(kv.Key, nil, &name)
		valDiags := gohcl.DecodeExpression(kv.Value, nil, &ref)
		d.diags = append(append(d.diags, keyDiags...), valDiags...)
		if keyDiags.HasErrors() || valDiags.HasErrors() {
			continue
		}
		if !envName.MatchString(name) {
			d.errorf(&keyRange, "Invalid variable name", "%q is not a variable name: letters, digits and _, not starting with a digit, e.g. REDIS_IMAGE.", name)
			continue
		}
		if prev, ok := seen[name]; ok {
			d.errorf(&keyRange, "Duplicate variable", "%s is already set at %s.", name, prev)
			continue
		}
		seen[name] = keyRange
		r, err := imageref.Parse(ref)
		if err != nil {
			d.errorf(kv.Value.Range().Ptr(), "Invalid image reference", "%s: %s.", name, err)
			continue
		}
		out = append(out, EnvImage{Name: name, Ref: r, Range: kv.Value.Range()})
	}
	return out
}

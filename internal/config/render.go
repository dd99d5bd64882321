package config

import (
	"regexp"

	"github.com/hashicorp/hcl/v2"

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
	var out []EnvImage
	seen := map[string]hcl.Range{}
	for _, p := range d.stringPairs(attr) {
		if !envName.MatchString(p.Key) {
			d.errorf(&p.KeyRange, "Invalid variable name", "%q is not a variable name: letters, digits and _, not starting with a digit, e.g. REDIS_IMAGE.", p.Key)
			continue
		}
		if prev, ok := seen[p.Key]; ok {
			d.errorf(&p.KeyRange, "Duplicate variable", "%s is already set at %s.", p.Key, prev)
			continue
		}
		seen[p.Key] = p.KeyRange
		r, err := imageref.Parse(p.Value)
		if err != nil {
			d.errorf(&p.ValueRange, "Invalid image reference", "%s: %s.", p.Key, err)
			continue
		}
		out = append(out, EnvImage{Name: p.Key, Ref: r, Range: p.ValueRange})
	}
	return out
}

package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// stringPair is one entry of a map of strings written in images.hcl, with
// the places of its key and value for diagnostics.
type stringPair struct {
	Key, Value           string
	KeyRange, ValueRange hcl.Range
}

// stringPairs decodes a map of strings in the order written, keeping each
// entry's places; entries that are not strings are diagnostics, left out.
func (d *decoder) stringPairs(attr *hcl.Attribute) []stringPair {
	pairs, diags := hcl.ExprMap(attr.Expr)
	d.diags = append(d.diags, diags...)
	var out []stringPair
	for _, kv := range pairs {
		p := stringPair{KeyRange: kv.Key.Range(), ValueRange: kv.Value.Range()}
		keyDiags := gohcl.DecodeExpression(kv.Key, nil, &p.Key)
		valDiags := gohcl.DecodeExpression(kv.Value, nil, &p.Value)
		d.diags = append(append(d.diags, keyDiags...), valDiags...)
		if !keyDiags.HasErrors() && !valDiags.HasErrors() {
			out = append(out, p)
		}
	}
	return out
}

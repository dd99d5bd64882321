package config

import (
	"encoding/json"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/util/validation"
)

// HelmRelease is a discover.helm block: one chart rendered as one release,
// as `helm install` would without a cluster.
type HelmRelease struct {
	// Name is the block label, the release name (.Release.Name).
	Name string
	// Chart is a chart directory or .tgz archive, relative to Dir.
	Chart string
	// Values are values files relative to Dir, merged in order like
	// `helm -f a -f b`.
	Values []string
	// Set are values set after the files, in the order written.
	Set []HelmValue
	// Namespace is .Release.Namespace; "" means the default namespace.
	Namespace string
	// KubeVersion is .Capabilities.KubeVersion; "" means imagesync's fixed
	// default (internal/helmrender).
	KubeVersion string
	// APIVersions are added to Helm's default .Capabilities.APIVersions.
	APIVersions []string
	Range       hcl.Range // of the block header
}

// HelmValue is one entry of a helm block's set: a key in Helm's path
// syntax ("backend.image.tag") and a value typed as HCL wrote it: a
// string, a bool, a number, or lists and objects of them.
type HelmValue struct {
	Key   string
	Value any
	Range hcl.Range // of the key
}

// Locator is the prefix of the places an image of this release is found
// at, as it appears in images.lock sources: "helm:NAME".
func (h *HelmRelease) Locator() string { return "helm:" + h.Name }

var helmSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "chart", Required: true}, {Name: "values"}, {Name: "set"}, {Name: "namespace"},
		{Name: "kube_version"}, {Name: "api_versions"},
	},
}

// helm decodes a discover.helm block.
func (d *decoder) helm(block *hcl.Block, seen map[string]*HelmRelease) {
	name, labelRange := block.Labels[0], block.LabelRanges[0]
	if err := chartutil.ValidateReleaseName(name); err != nil {
		d.errorf(&labelRange, "Invalid release name", "%q: %v.", name, err)
		return
	}
	if prev, ok := seen[name]; ok {
		d.errorf(&labelRange, "Duplicate helm block", "Release %q is already declared at %s.", name, prev.Range)
		return
	}
	h := &HelmRelease{Name: name, Range: block.DefRange}
	seen[name] = h
	d.cfg.Discover.Helm = append(d.cfg.Discover.Helm, h)

	content, diags := block.Body.Content(helmSchema)
	d.diags = append(d.diags, diags...)
	if attr, ok := content.Attributes["chart"]; ok && d.decode(attr, &h.Chart) {
		if err := insideRepo(h.Chart); err != nil {
			d.errorf(attr.Expr.Range().Ptr(), "Path outside the repository", "%q %s.", h.Chart, err)
		}
	}
	if attr, ok := content.Attributes["values"]; ok {
		h.Values = d.paths(attr)
	}
	if attr, ok := content.Attributes["set"]; ok {
		h.Set = d.helmValues(attr)
	}
	if attr, ok := content.Attributes["namespace"]; ok && d.decode(attr, &h.Namespace) {
		if errs := validation.IsDNS1123Label(h.Namespace); len(errs) > 0 {
			d.errorf(attr.Expr.Range().Ptr(), "Invalid namespace", "%q: %s.", h.Namespace, strings.Join(errs, "; "))
		}
	}
	if attr, ok := content.Attributes["kube_version"]; ok && d.decode(attr, &h.KubeVersion) {
		if _, err := chartutil.ParseKubeVersion(h.KubeVersion); err != nil {
			d.errorf(attr.Expr.Range().Ptr(), "Invalid kube_version", "%q is not a Kubernetes version such as \"1.31.0\": %v.", h.KubeVersion, err)
		}
	}
	if attr, ok := content.Attributes["api_versions"]; ok && d.decode(attr, &h.APIVersions) {
		for _, v := range h.APIVersions {
			if v == "" || strings.ContainsAny(v, " \t\n") {
				d.errorf(attr.Expr.Range().Ptr(), "Invalid API version", "%q is not an API version such as \"monitoring.coreos.com/v1\".", v)
			}
		}
	}
}

// helmValues decodes a helm block's set map, keeping the order written
// (later entries win, as later --set flags do) and each value's type.
func (d *decoder) helmValues(attr *hcl.Attribute) []HelmValue {
	pairs, diags := hcl.ExprMap(attr.Expr)
	d.diags = append(d.diags, diags...)
	var out []HelmValue
	for _, kv := range pairs {
		rng := kv.Key.Range()
		var key string
		if keyDiags := gohcl.DecodeExpression(kv.Key, nil, &key); keyDiags.HasErrors() {
			d.diags = append(d.diags, keyDiags...)
			continue
		}
		if key == "" || strings.ContainsAny(key, "=,") {
			d.errorf(&rng, "Invalid set key", "%q is not a values path such as \"backend.image.tag\" (it may not be empty or hold '=' or ',').", key)
			continue
		}
		val, valDiags := kv.Value.Value(nil)
		d.diags = append(d.diags, valDiags...)
		if valDiags.HasErrors() {
			continue
		}
		data, err := ctyjson.Marshal(val, val.Type())
		var v any
		if err == nil {
			dec := json.NewDecoder(strings.NewReader(string(data)))
			dec.UseNumber() // a number keeps every digit written
			err = dec.Decode(&v)
		}
		if err != nil {
			d.errorf(kv.Value.Range().Ptr(), "Invalid set value", "The value of %q cannot be passed to Helm: %v.", key, err)
			continue
		}
		out = append(out, HelmValue{Key: key, Value: v, Range: rng})
	}
	return out
}

// kustomizeDirs decodes discover.kustomize: directories inside the
// repository.
func (d *decoder) kustomizeDirs(attr *hcl.Attribute) {
	d.cfg.Discover.Kustomize = d.paths(attr)
	d.cfg.Discover.KustomizeRange = attr.Expr.Range()
}

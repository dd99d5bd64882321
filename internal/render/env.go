package render

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/imagesync/imagesync/internal/config"
)

// Env writes one KEY=reference line per entry of images.hcl's render.env,
// in the order written, for compose files that read their images from
// variables (image: ${REDIS_IMAGE}), .env files and CI environments.
// Entries that name an image images.lock does not hold, or a build not in
// the target with the locked inputs, are error diagnostics on the entry,
// all of them at once; so is an empty render.env.
func Env(r config.Render, pins *Pins) ([]byte, hcl.Diagnostics) {
	if len(r.Env) == 0 {
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No render.env entries",
			Detail: `"imagesync render env" writes the variables of images.hcl's render block, e.g. render { env = { REDIS_IMAGE = "docker.io/library/redis:7-alpine" } }; there are none.`}
		if r.Range.Filename != "" {
			d.Subject = r.Range.Ptr()
		}
		return nil, hcl.Diagnostics{d}
	}
	var b strings.Builder
	var diags hcl.Diagnostics
	for _, e := range r.Env {
		pin, ok := pins.lookup(e.Ref)
		switch {
		case !ok:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Image not in images.lock",
				Detail: fmt.Sprintf("%s names %s, which images.lock does not hold: only locked images are rendered. Name an image of \"imagesync images\", or add this one (to a compose file or an image block) and run \"imagesync lock\".",
					e.Name, e.Ref),
				Subject: e.Range.Ptr()})
		case pin.Problem != "":
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Image not built from the locked inputs",
				Detail:  fmt.Sprintf("%s names %s, built by %s: %s. Run \"imagesync apply\" first.", e.Name, e.Ref, servicesLabel(pin.Services), pin.Problem),
				Subject: e.Range.Ptr()})
		default:
			fmt.Fprintf(&b, "%s=%s\n", e.Name, pin.Ref())
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return []byte(b.String()), nil
}

// servicesLabel names the compose services of a build.
func servicesLabel(services []string) string {
	if len(services) == 1 {
		return "service " + services[0]
	}
	return "services " + strings.Join(services, ", ")
}

package helmrender

import (
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"
)

// ImageAnnotations are the Chart.yaml annotations in which a chart
// declares the images it runs, including those only an operator it
// installs pulls: helm.sh/images (HIP-0015) and artifacthub.io/images.
var ImageAnnotations = []string{"helm.sh/images", "artifacthub.io/images"}

// DeclaredImage is one entry of an image annotation of a chart that the
// release renders.
type DeclaredImage struct {
	// Chart is the chart's path in the release: its name, then
	// "/charts/<name>" for each subchart level ("app/charts/cache").
	Chart string
	// Annotation is the annotation it is listed in (ImageAnnotations).
	Annotation string
	// Name is the entry's name; Index its position in the list, from 0.
	Name  string
	Index int
	// Image is the reference as written.
	Image string
}

// annotationEntry is one entry of an image annotation: HIP-0015's name,
// image and dependency (left out unless the release renders that
// subchart: a disabled dependency is no longer among the chart's), with
// the condition some charts add (a values path decided as a dependency's
// condition is, in the chart's own values).
type annotationEntry struct {
	Name       string `json:"name"`
	Image      string `json:"image"`
	Dependency string `json:"dependency"`
	Condition  string `json:"condition"`
}

// declaredImages lists the images the image annotations of ch and of its
// enabled subcharts declare, the entries whose condition or dependency is
// off left out; vals are ch's coalesced values. An annotation that cannot
// be read is a warning, as Helm itself never reads it.
func declaredImages(ch *chart.Chart, vals chartutil.Values, path string) ([]DeclaredImage, []string) {
	var out []DeclaredImage
	var warnings []string
	for _, annotation := range ImageAnnotations {
		raw, ok := ch.Metadata.Annotations[annotation]
		if !ok {
			continue
		}
		var entries []annotationEntry
		if err := yaml.Unmarshal([]byte(raw), &entries); err != nil {
			warnings = append(warnings, fmt.Sprintf("chart %s: annotation %s is not a list of images: %v", path, annotation, err))
			continue
		}
		for i, e := range entries {
			if e.Image == "" || !conditionHolds(e.Condition, vals) || (e.Dependency != "" && !vendored(ch, e.Dependency)) {
				continue
			}
			out = append(out, DeclaredImage{Chart: path, Annotation: annotation, Name: e.Name, Index: i, Image: e.Image})
		}
	}
	for _, sub := range ch.Dependencies() {
		subVals, err := vals.Table(sub.Name())
		if err != nil {
			subVals = chartutil.Values{}
		}
		more, warn := declaredImages(sub, subVals, path+"/charts/"+sub.Name())
		out, warnings = append(out, more...), append(warnings, warn...)
	}
	return out, warnings
}

// conditionHolds decides a condition as Helm decides a dependency's: the
// first of its comma-separated values paths that holds a bool; true when
// none does.
func conditionHolds(condition string, vals chartutil.Values) bool {
	for _, p := range strings.Split(condition, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if v, err := vals.PathValue(p); err == nil {
			if b, ok := v.(bool); ok {
				return b
			}
		}
	}
	return true
}

package scaffold

import (
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Chart is a Helm chart found in the tree: a directory holding Chart.yaml
// that is not a subchart vendored under another chart's charts/.
type Chart struct {
	Dir  string // slash path relative to the root
	Name string // the name Chart.yaml gives, "" when it gives none
	// Values are the chart's other values files (values-prod.yaml, ...):
	// each is one more release, since each may run other images.
	Values []string
	// Vendored is the directory of other projects' code the chart is
	// under, "" for the repository's own.
	Vendored string
}

// HelmRelease is a helm block init proposes for a chart.
type HelmRelease struct {
	Name   string // the block label: a valid release name, unique in the file
	Chart  string
	Values []string
	// ValuesFrom names the script whose values files Values starts with:
	// the chart needs values from outside it, as the script passes them.
	ValuesFrom string
	// LeftOut, when set, is why the block is proposed commented out.
	LeftOut string
}

// isValuesFile reports whether a file name is one of a chart's values
// files other than values.yaml (values-prod.yaml, values.dev.yml).
func isValuesFile(name string) bool {
	stem, ok := strings.CutSuffix(name, ".yaml")
	if !ok {
		stem, ok = strings.CutSuffix(name, ".yml")
	}
	return ok && strings.HasPrefix(stem, "values") && stem != "values"
}

// charts turns the directories holding Chart.yaml into Charts, less the
// subcharts, sorted by directory.
func charts(r reader, chartDirs map[string]bool, values map[string][]string) []Chart {
	var out []Chart
	for _, dir := range slices.Sorted(maps.Keys(chartDirs)) {
		if isSubchart(dir, chartDirs) {
			continue // rendered with its parent
		}
		c := Chart{Dir: dir, Name: chartName(r, join(dir, "Chart.yaml"))}
		for _, v := range slices.Sorted(slices.Values(values[dir])) {
			c.Values = append(c.Values, join(dir, v))
		}
		out = append(out, c)
	}
	return out
}

// isSubchart reports whether dir is vendored under the charts/ directory
// of another chart.
func isSubchart(dir string, chartDirs map[string]bool) bool {
	for d := dir; d != "." && d != "/"; d = path.Dir(d) {
		parent := path.Dir(d)
		if path.Base(parent) == "charts" && chartDirs[path.Dir(parent)] {
			return true
		}
	}
	return false
}

// chartName reads the name of a Chart.yaml, "" when it cannot.
func chartName(r reader, file string) string {
	data, err := r.read(file)
	if err != nil {
		return ""
	}
	var meta struct {
		Name string `yaml:"name"`
	}
	if yaml.Unmarshal(data, &meta) != nil {
		return ""
	}
	return meta.Name
}

// maxReleaseName is the longest release name Helm accepts.
const maxReleaseName = 53

// releaseName makes a Helm release name of a chart name: lower case,
// letters, digits and dashes, at most maxReleaseName long; "release" when
// nothing is left.
func releaseName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) > maxReleaseName {
		s = s[:maxReleaseName]
	}
	s = strings.Trim(s, "-")
	if s == "" {
		return "release"
	}
	return s
}

// helmReleases proposes one release per chart with its default values,
// and one more per values file of the chart (values-prod.yaml: release
// "<chart>-prod"), each named after the chart (or its directory), unique
// in the file.
func helmReleases(cs []Chart) []HelmRelease {
	var out []HelmRelease
	used := map[string]bool{}
	unique := func(base string) string {
		name := releaseName(base)
		for i := 2; used[name]; i++ {
			suffix := "-" + strconv.Itoa(i)
			name = strings.TrimRight(releaseName(base)[:min(len(releaseName(base)), maxReleaseName-len(suffix))], "-") + suffix
		}
		used[name] = true
		return name
	}
	for _, c := range cs {
		base := c.Name
		if base == "" {
			base = path.Base(c.Dir)
		}
		out = append(out, HelmRelease{Name: unique(base), Chart: c.Dir})
		for _, v := range c.Values {
			out = append(out, HelmRelease{Name: unique(base + "-" + valuesStem(path.Base(v))), Chart: c.Dir, Values: []string{v}})
		}
	}
	return out
}

// valuesStem is what tells a values file apart: "prod" of
// values-prod.yaml or values.prod.yml.
func valuesStem(name string) string {
	stem := strings.TrimSuffix(strings.TrimSuffix(name, ".yaml"), ".yml")
	return strings.TrimLeft(strings.TrimPrefix(stem, "values"), "-._")
}

package scaffold

import (
	"path"
	"regexp"
	"slices"
	"strings"
)

// scriptValues are the values files a script or CI file passes to
// `helm install`, `helm upgrade` or `helm template`: what a chart whose
// templates need values from outside it is rendered with.
type scriptValues struct {
	script string   // the file that passes them
	dir    string   // the folder their paths are relative to: the script's
	files  []string // relative to the root, in the order passed
}

// helmCommand matches a helm command that renders a chart; valuesFlag a
// values file it passes (--values F, --values=F, -f F).
var (
	helmCommand = regexp.MustCompile(`\bhelm\s+(?:install|upgrade|template)\b`)
	valuesFlag  = regexp.MustCompile(`(?:--values[=\s]+|\s-f\s+)["']?([^\s"';|&]+)`)
)

// helmValuesOf reads the values files the helm commands of a script pass
// with a literal path that exists (exists tells, by a path relative to
// the root). A CI file's paths are relative to the root, a script's to
// its folder.
func helmValuesOf(rel string, data []byte, exists func(string) bool) *scriptValues {
	sv := &scriptValues{script: rel, dir: path.Dir(rel)}
	if isCIFile(rel) {
		sv.dir = "."
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !helmCommand.MatchString(line) {
			continue
		}
		for _, m := range valuesFlag.FindAllStringSubmatch(line, -1) {
			f := path.Join(sv.dir, m[1])
			if !strings.Contains(m[1], "$") && exists(f) && !slices.Contains(sv.files, f) {
				sv.files = append(sv.files, f)
			}
		}
	}
	if len(sv.files) == 0 {
		return nil
	}
	return sv
}

// valuesFor are the values files scripts pass that a chart in dir may
// need: those of the first script (by path) whose folder holds the chart.
func valuesFor(dir string, scripts []scriptValues) *scriptValues {
	for i := range scripts {
		if under(dir, dirPrefix(scripts[i].dir)) {
			return &scripts[i]
		}
	}
	return nil
}

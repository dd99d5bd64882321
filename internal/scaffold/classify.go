package scaffold

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/imagesync/imagesync/internal/kube"
)

// Lines that tell what a YAML file means to be, when it cannot be read
// (a template, a syntax error): a compose file or Kubernetes objects.
var (
	servicesLine   = regexp.MustCompile(`(?m)^services\s*:`)
	apiVersionLine = regexp.MustCompile(`(?m)^\s*apiVersion\s*:`)
	kindLine       = regexp.MustCompile(`(?m)^\s*kind\s*:`)
)

// composeTemplateHint is what to do with a compose file the repository
// renders itself, as discovery says it.
const composeTemplateHint = "a template the repository renders itself ({{...}} placeholders): render it first, " +
	"and list the rendered file in a compose_project block"

// finish reads what the walk found and classifies it.
func (w *walker) finish() *Repo {
	r := w.repo
	r.Charts = charts(w.rd, w.chartDirs, w.values)
	for i := range r.Charts {
		r.Charts[i].Vendored = w.vendorOf(r.Charts[i].Dir)
	}
	w.kustomizations()
	for _, rel := range w.yamlFiles {
		w.classify(rel)
	}
	w.vendoredCompose()
	w.valueSources()
	w.ciLeftOut()
	for _, l := range [][]string{r.Dockerfiles, r.VendoredDockerfiles, r.Leftovers, r.SkippedDirs, r.Manifests, r.EnvFiles, r.CIFiles} {
		slices.Sort(l)
	}
	sort.Slice(r.Compose, func(i, j int) bool { return r.Compose[i].Path < r.Compose[j].Path })
	sort.Slice(r.LeftOut, func(i, j int) bool { return r.LeftOut[i].Path < r.LeftOut[j].Path })
	return r
}

// kustomizations reads every kustomization file found.
func (w *walker) kustomizations() {
	for _, dir := range slices.Sorted(maps.Keys(w.kustomize)) {
		file := w.kustomize[dir]
		data, err := w.rd.read(file)
		if err == nil {
			var k Kustomization
			if k, err = readKustomization(dir, data, func(p string) bool { return w.dirs[p] }); err == nil {
				w.repo.Kustomizations = append(w.repo.Kustomizations, k)
				continue
			}
		}
		w.repo.LeftOut = append(w.repo.LeftOut, LeftOut{Path: file, Reason: "cannot be read: " + firstLine(err.Error())})
	}
}

// inChart reports whether a file is part of a chart (its templates, its
// values, its subcharts): the helm block renders it.
func (w *walker) inChart(rel string) bool {
	for dir := range w.chartDirs {
		if under(rel, dirPrefix(dir)) {
			return true
		}
	}
	return false
}

// classify reads a YAML file outside charts and kustomize trees: a
// compose file, Kubernetes objects, or something else.
func (w *walker) classify(rel string) {
	r := w.repo
	if w.inChart(rel) || covered(rel, r.Kustomizations) {
		return
	}
	data, err := w.rd.read(rel)
	if err != nil {
		r.LeftOut = append(r.LeftOut, LeftOut{Path: rel, Reason: "cannot be read: " + firstLine(err.Error())})
		return
	}
	text := string(data)
	looksCompose := composeName(path.Base(rel)) || servicesLine.MatchString(text)
	looksKube := apiVersionLine.MatchString(text) && kindLine.MatchString(text)
	if strings.Contains(text, "{{") {
		switch {
		case looksCompose:
			r.LeftOut = append(r.LeftOut, LeftOut{Path: rel, Reason: composeTemplateHint})
		case looksKube:
			r.LeftOut = append(r.LeftOut, LeftOut{Path: rel, Reason: "a template ({{...}} placeholders): render it with a helm block if it is a chart's, or render it first"})
		}
		return
	}
	f, isCompose, composeErr := parseCompose(rel, data)
	if isCompose {
		if strings.HasPrefix(rel, ".github/") {
			r.LeftOut = append(r.LeftOut, LeftOut{Path: rel, Reason: "under .github/: CI's, not the deployment's"})
			return
		}
		r.Compose = append(r.Compose, f)
		return
	}
	objs, kubeErr := kube.Decode(data)
	switch {
	case kubeErr == nil && len(objs) > 0 && !toolConfig(objs):
		if strings.HasPrefix(rel, ".github/") {
			r.LeftOut = append(r.LeftOut, LeftOut{Path: rel, Reason: "under .github/: CI's, not the deployment's"})
			return
		}
		r.Manifests = append(r.Manifests, rel)
	case kubeErr == nil && len(objs) > 0:
		r.LeftOut = append(r.LeftOut, LeftOut{Path: rel, Reason: fmt.Sprintf("%s's configuration (%s), not objects for a cluster", tool(objs[0]), objs[0].APIVersion)})
	case composeErr != nil && looksCompose && !looksKube:
		r.LeftOut = append(r.LeftOut, LeftOut{Path: rel, Reason: "fails to parse: " + firstLine(composeErr.Error())})
	case kubeErr != nil && looksKube:
		r.LeftOut = append(r.LeftOut, LeftOut{Path: rel, Reason: "not only Kubernetes objects: " + firstLine(kubeErr.Error())})
	}
}

// toolGroups are API groups of tools' configuration files, written like
// Kubernetes objects but never sent to a cluster.
var toolGroups = map[string]string{"skaffold": "skaffold", "kind.x-k8s.io": "kind", "k3d.io": "k3d", "ctlptl.dev": "ctlptl",
	"kustomize.config.k8s.io": "kustomize", "config.kubernetes.io": "kustomize"}

// toolConfig reports whether objects are a tool's configuration (every
// one of them), not objects for a cluster.
func toolConfig(objs []kube.Object) bool {
	for _, o := range objs {
		if tool(o) == "" {
			return false
		}
	}
	return true
}

// tool names the tool whose configuration o is, "" for a cluster's object.
func tool(o kube.Object) string {
	if o.APIVersion == "v1" && o.Kind == "Config" {
		return "kubectl" // a kubeconfig
	}
	return toolGroups[o.Group()]
}

// vendoredCompose reads the compose files of other projects' code, to
// propose them commented out.
func (w *walker) vendoredCompose() {
	for _, rel := range w.vendorYAML {
		data, err := w.rd.read(rel)
		if err != nil {
			continue
		}
		if f, ok, err := parseCompose(rel, data); ok && err == nil {
			f.Vendored = w.vendorOf(rel)
			w.repo.Compose = append(w.repo.Compose, f)
		}
	}
}

// valueSources lists where the repository gives build arguments' values:
// compose files' build args, then .env files (the root's first), then CI
// files and build scripts.
func (w *walker) valueSources() {
	r := w.repo
	for _, f := range r.Compose {
		if f.Vendored != "" {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(f.Services)) {
			if args := f.Services[name].Args; len(args) > 0 {
				r.sources = append(r.sources, valueSource{where: fmt.Sprintf("%s (services.%s.build.args)", f.Path, name), values: args})
			}
		}
	}
	envs := slices.Clone(r.EnvFiles)
	sort.SliceStable(envs, func(i, j int) bool { return depth(path.Dir(envs[i])) < depth(path.Dir(envs[j])) })
	for _, rel := range envs {
		if data, err := w.rd.read(rel); err == nil {
			r.sources = append(r.sources, valueSource{where: rel, values: envValues(data)})
		}
	}
	isYAML := func(rel string) bool { return slices.Contains(r.tree.yaml[path.Dir(rel)], rel) }
	for _, rel := range slices.Sorted(slices.Values(slices.Concat(r.CIFiles, w.scripts))) {
		if data, err := w.rd.read(rel); err == nil {
			r.sources = append(r.sources, valueSource{where: rel, values: ciValues(rel, data)})
			if sv := helmValuesOf(rel, data, isYAML); sv != nil {
				r.helmValues = append(r.helmValues, *sv)
			}
		}
	}
}

// ciLeftOut says that CI workflows are not scanned, one line per folder.
func (w *walker) ciLeftOut() {
	byDir := map[string][]string{}
	for _, f := range w.repo.CIFiles {
		if isYAMLName(f) {
			byDir[path.Dir(f)] = append(byDir[path.Dir(f)], f)
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(byDir)) {
		files := byDir[dir]
		if dir != "." && len(files) > 1 {
			files = []string{fmt.Sprintf("%s/ (%d files)", dir, len(files))}
		}
		for _, p := range files {
			w.repo.LeftOut = append(w.repo.LeftOut, LeftOut{Path: p, Reason: "CI configuration: the images its jobs run are not " +
				"the deployment's (read for the build arguments it passes)"})
		}
	}
}

// depth is the number of directories between the root and dir.
func depth(dir string) int {
	if dir == "." {
		return 0
	}
	return strings.Count(dir, "/") + 1
}

package helmrender

import (
	"sort"

	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
)

// Document is one YAML document a release renders, with the place it
// comes from: a stable key for an object whose name changes from one
// render to the next (a test Pod named with randAlphaNum).
type Document struct {
	// Template is the template it was rendered from, as helm's
	// "# Source:" line names it ("app/templates/tests/test.yaml",
	// "app/charts/cache/templates/redis.yaml").
	Template string
	// Index is its position among the documents of the template's
	// output, from 1.
	Index int
	// Events are a hook's events ("pre-install", "test", ...); nil for a
	// manifest.
	Events []string
	// Content is the document as the render gives it.
	Content string
	// Again is the same document as a second render of the same chart and
	// values gives it: different from Content when the template calls
	// rand*, now, uuidv4 and the like, "" when the second render has no
	// such document.
	Again string
}

// documents lists the manifests then the hooks, in Helm's install order,
// each with its template and position, and the same document of a second
// render (files again).
func documents(manifests []releaseutil.Manifest, hooks []*release.Hook, files, again map[string]string) []Document {
	split := map[string][]string{}      // template -> its documents, in order
	splitAgain := map[string][]string{} // the same, of the second render
	used := map[string][]bool{}
	index := func(template, content string) int {
		if _, ok := split[template]; !ok {
			split[template], splitAgain[template] = ordered(files[template]), ordered(again[template])
			used[template] = make([]bool, len(split[template]))
		}
		for i, doc := range split[template] {
			if !used[template][i] && doc == content {
				used[template][i] = true
				return i + 1
			}
		}
		return 0 // not found: SortManifests trims documents as SplitManifests does, so it always is
	}
	var out []Document
	add := func(template, content string, events []string) {
		d := Document{Template: template, Index: index(template, content), Events: events, Content: content}
		if docs := splitAgain[template]; d.Index > 0 && d.Index <= len(docs) {
			d.Again = docs[d.Index-1]
		}
		out = append(out, d)
	}
	for _, m := range manifests {
		add(m.Name, m.Content, nil)
	}
	for _, h := range hooks {
		events := make([]string, 0, len(h.Events))
		for _, e := range h.Events {
			events = append(events, string(e))
		}
		add(h.Path, h.Manifest, events)
	}
	return out
}

// ordered splits a template's output into its documents, in order, as
// SortManifests does.
func ordered(content string) []string {
	entries := releaseutil.SplitManifests(content)
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = entries[k]
	}
	return out
}

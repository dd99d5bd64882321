package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/imagesync/imagesync/internal/scaffold"
)

// WriteInit tells what `imagesync init` wrote, what discovery finds with
// it, and the command to run next.
func WriteInit(w io.Writer, res *scaffold.Result, next string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Wrote %s, mirroring to %s:\n", res.Path, res.Target)
	rows := initRows(res)
	if len(rows) == 0 {
		b.WriteString("  no compose file, Dockerfile, Helm chart, kustomization or Kubernetes manifest found: list the images in image blocks, or the files to scan\n")
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-12s %s\n", r[0], r[1])
	}
	if n := leftOutCount(res.Discovery); n > 0 {
		fmt.Fprintf(&b, "  %-12s %d found and not proposed, each with the reason in %s\n", "left out", n, res.Path)
	}
	switch g := res.Gitignore; {
	case g.Added:
		fmt.Fprintf(&b, "  %-12s added %s (imagesync caches charts there)\n", ".gitignore", scaffold.CacheDir)
	case g.Note != "":
		fmt.Fprintf(&b, "  %-12s %s\n", ".gitignore", g.Note)
	}
	b.WriteString("\n")
	discoveryLines(&b, res)
	fmt.Fprintf(&b, "\nAdd a registry block for an upstream registry you reach through a mirror (see the\ncomments), then pin every image to a digest in images.lock:\n  %s\n", next)
	return writeText(w, b.String())
}

// initRows are the sources init proposed, one row per kind.
func initRows(res *scaffold.Result) [][2]string {
	d := res.Discovery
	var rows [][2]string
	add := func(key string, values []string) {
		for i, v := range values {
			if i > 0 {
				key = ""
			}
			rows = append(rows, [2]string{key, v})
		}
	}
	var projects, releases, overlays, args []string
	for _, p := range d.Projects {
		if p.LeftOut == "" {
			row := p.Name + ": " + strings.Join(p.Files, ", ")
			if len(p.EnvFiles) > 0 {
				row += " (env_files " + strings.Join(p.EnvFiles, ", ") + ")"
			}
			projects = append(projects, row)
		}
	}
	add("compose", projects)
	if len(d.Dockerfiles) > 0 {
		add("dockerfiles", []string{fmt.Sprintf("%s (%s)", strings.Join(d.Dockerfiles, ", "), Plural(len(res.Repo.Dockerfiles), "Dockerfile"))})
	}
	for _, a := range d.BuildArgs {
		from := "from " + a.From
		if a.Placeholder() {
			from = "PLACEHOLDER: no value in the repository, set it in images.hcl"
		}
		args = append(args, a.Name+" ("+from+")")
	}
	add("build_args", args)
	if len(d.Exclude) > 0 {
		var patterns []string
		for _, e := range d.Exclude {
			patterns = append(patterns, e.Pattern)
		}
		add("exclude", []string{strings.Join(patterns, ", ")})
	}
	for _, h := range d.Helm {
		if h.LeftOut == "" {
			releases = append(releases, fmt.Sprintf("%s (chart %s%s)", h.Name, h.Chart, valuesNote(h.Values)))
		}
	}
	add("helm", releases)
	for _, k := range d.Kustomize {
		if k.LeftOut == "" {
			overlays = append(overlays, k.Dir)
		}
	}
	add("kustomize", overlays)
	add("kubernetes", d.Kubernetes)
	return rows
}

func valuesNote(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return ", values " + strings.Join(values, ", ")
}

// leftOutCount counts what init found and did not propose: sources
// written commented out and files listed with a reason.
func leftOutCount(d *scaffold.Discovery) int {
	n := len(d.LeftOut)
	for _, p := range d.Projects {
		if p.LeftOut != "" {
			n++
		}
	}
	for _, h := range d.Helm {
		if h.LeftOut != "" {
			n++
		}
	}
	for _, k := range d.Kustomize {
		if k.LeftOut != "" {
			n++
		}
	}
	return n
}

// discoveryLines says what discovery finds with the file as written, or
// what it reports.
func discoveryLines(b *strings.Builder, res *scaffold.Result) {
	if res.Problems != nil {
		b.WriteString("With it, discovery reports problems to fix (in images.hcl or in the repository):\n")
		for _, line := range strings.Split(res.Problems.Error(), "\n") {
			b.WriteString("  " + line + "\n")
		}
		return
	}
	fmt.Fprintf(b, "With it, discovery finds %s and %s (imagesync images --discovered lists them).\n",
		Plural(len(res.Found.Images), "image"), Plural(len(res.Found.Builds), "build"))
	for _, w := range res.Found.Warnings {
		b.WriteString("  warning: " + w + "\n")
	}
}

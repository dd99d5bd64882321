package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/imagesync/imagesync/internal/scaffold"
)

// WriteInit tells what `imagesync init` wrote and the command to run next.
func WriteInit(w io.Writer, res *scaffold.Result, next string) error {
	d := res.Discovery
	var b strings.Builder
	fmt.Fprintf(&b, "Wrote %s, mirroring to %s:\n", res.Path, res.Target)
	rows := [][2]string{}
	if len(d.Compose) > 0 {
		compose := strings.Join(d.Compose, ", ")
		if n := len(d.Others); n > 0 {
			compose += fmt.Sprintf(" (%s left out, listed in the file)", Plural(n, "other compose project"))
		}
		rows = append(rows, [2]string{"compose", compose})
	}
	if len(d.EnvFiles) > 0 {
		rows = append(rows, [2]string{"env_files", strings.Join(d.EnvFiles, ", ")})
	}
	if len(d.Dockerfiles) > 0 {
		rows = append(rows, [2]string{"dockerfiles", fmt.Sprintf("%s (%s)", strings.Join(d.Dockerfiles, ", "), Plural(len(res.Repo.Dockerfiles), "Dockerfile"))})
	}
	if len(d.Exclude) > 0 {
		rows = append(rows, [2]string{"exclude", strings.Join(d.Exclude, ", ")})
	}
	for _, h := range d.Helm {
		rows = append(rows, [2]string{"helm", fmt.Sprintf("%s (chart %s)", h.Name, h.Chart)})
	}
	if len(rows) == 0 {
		b.WriteString("  no compose file, Dockerfile or Helm chart found: list the images in image blocks, or the files to scan\n")
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-12s %s\n", r[0], r[1])
	}
	fmt.Fprintf(&b, "\nAdd a registry block for an upstream registry you reach through a mirror (see the\ncomments), then pin every image to a digest in images.lock:\n  %s\n", next)
	return writeText(w, b.String())
}

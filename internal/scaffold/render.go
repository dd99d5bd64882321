package scaffold

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// dockerfileGlobs returns globs under the deepest directory holding every
// file, one per naming convention in use: Dockerfile, Dockerfile.<x>
// ("Dockerfile*") and <x>.Dockerfile ("*.Dockerfile").
func dockerfileGlobs(files []string) []string {
	if len(files) == 0 {
		return nil
	}
	prefix := commonDir(files)
	if prefix != "" {
		prefix += "/"
	}
	var globs []string
	if slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(path.Base(f), "Dockerfile") }) {
		globs = append(globs, prefix+"**/Dockerfile*")
	}
	if slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, ".Dockerfile") }) {
		globs = append(globs, prefix+"**/*.Dockerfile")
	}
	return globs
}

// commonDir is the deepest directory holding every file ("" for the root).
func commonDir(files []string) string {
	if len(files) == 0 {
		return ""
	}
	common := strings.Split(path.Dir(files[0]), "/")
	for _, f := range files[1:] {
		parts := strings.Split(path.Dir(f), "/")
		n := 0
		for n < len(common) && n < len(parts) && common[n] == parts[n] {
			n++
		}
		common = common[:n]
	}
	dir := strings.Join(common, "/")
	if dir == "." {
		return ""
	}
	return dir
}

// under reports whether p is prefix or inside it ("" is the root).
func under(p, prefix string) bool {
	return prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/")
}

// Render returns the text of images.hcl for the discover block d,
// mirroring to target: a header, then one section after another.
func Render(d *Discovery, target string) []byte {
	var b strings.Builder
	for _, section := range []func(*strings.Builder){
		header,
		func(b *strings.Builder) { targetSection(b, target) },
		func(b *strings.Builder) { discoverSection(b, d) },
		func(b *strings.Builder) { leftOutSection(b, d.LeftOut) },
		registrySection,
	} {
		section(&b)
	}
	return hclwrite.Format([]byte(b.String()))
}

func header(b *strings.Builder) {
	b.WriteString(`# images.hcl: where imagesync finds the container images this repository
# needs, and where it mirrors them. Written by "imagesync init" from what it
# found in the repository; edit it freely (README, "What init writes").
# Next: "imagesync images --discovered" lists what it finds, "imagesync lock"
# pins every image to a digest in images.lock.
`)
}

func targetSection(b *strings.Builder, target string) {
	fmt.Fprintf(b, `
# Every image is mirrored to this registry, under this namespace.
target {
  registry = %s
  # layout = "flat" # one path level under the namespace (Aliyun ACR personal edition)
}
`, quote(target))
}

// leftOutSection lists, after the discover block, what init found and
// did not propose, with the reason.
func leftOutSection(b *strings.Builder, left []LeftOut) {
	if len(left) == 0 {
		return
	}
	b.WriteString("\n# Found and left out, with the reason:\n")
	for _, l := range groupLeftOut(left) {
		fmt.Fprintf(b, "#   %s\n", l)
	}
}

// groupLeftOut joins the entries of one folder that share a reason, when
// there are more than two, into one: "dir/ (5 files)".
func groupLeftOut(left []LeftOut) []LeftOut {
	var out []LeftOut
	for i := 0; i < len(left); {
		j := i + 1
		for j < len(left) && left[j].Reason == left[i].Reason && path.Dir(left[j].Path) == path.Dir(left[i].Path) {
			j++
		}
		if j-i > 2 && path.Dir(left[i].Path) != "." {
			out = append(out, LeftOut{Path: fmt.Sprintf("%s/ (%d files)", path.Dir(left[i].Path), j-i), Reason: left[i].Reason})
		} else {
			out = append(out, left[i:j]...)
		}
		i = j
	}
	return out
}

func registrySection(b *strings.Builder) {
	b.WriteString(`
# An upstream registry reached through a mirror, or with its own CA:
# registry "docker.io" {
#   mirrors = ["https://mirror.example.com"]
# }
`)
}

// quote writes s as an HCL string literal, escaping what HCL would
// otherwise interpolate ("${", "%{").
func quote(s string) string {
	return strings.TrimSpace(string(hclwrite.TokensForValue(cty.StringVal(s)).Bytes()))
}

// list writes strings as an HCL list on one line.
func list(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = quote(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// block writes text inside the discover block, every line indented, or
// made a comment after a line saying why when leftOut is set.
func block(b *strings.Builder, text, leftOut string) {
	prefix := "  "
	if leftOut != "" {
		b.WriteString("  # Left out: " + leftOut + "\n")
		prefix = "  # "
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		b.WriteString(prefix + line + "\n")
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

package scaffold

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Discovery is the discover block init writes for a repository.
type Discovery struct {
	Compose     []string // the chosen project's files, in merge order
	EnvFiles    []string
	Dockerfiles []string // doublestar globs covering every Dockerfile found
	Exclude     []string // leftovers' patterns, then skipped directories under the globs
	Others      []ComposeProject
	Helm        []HelmRelease // one release per chart found
}

// Discovery derives the discover block from what Scan found.
func (r *Repo) Discovery() Discovery {
	var d Discovery
	if len(r.Compose) > 0 {
		// imagesync loads one compose project (its files merged like
		// `docker compose -f a -f b`): the root's, else the shallowest.
		p := r.Compose[0]
		d.Compose = p.Files
		if p.EnvFile != "" {
			d.EnvFiles = []string{p.EnvFile}
		}
		d.Others = r.Compose[1:]
	}
	d.Dockerfiles = dockerfileGlobs(r.Dockerfiles)
	d.Helm = helmReleases(r.Charts)
	for _, f := range r.Leftovers {
		if pattern := "**/*" + leftoverSuffix(path.Base(f)); !slices.Contains(d.Exclude, pattern) {
			d.Exclude = append(d.Exclude, pattern)
		}
	}
	slices.Sort(d.Exclude)
	// A skipped directory under a glob would be scanned by discovery: its
	// Dockerfiles are other projects' (node_modules, vendor).
	prefix := commonDir(r.Dockerfiles)
	for _, dir := range r.SkippedDirs {
		if slices.Contains(vcsDirs, path.Base(dir)) || len(d.Dockerfiles) == 0 || !under(dir, prefix) {
			continue
		}
		if pattern := "**/" + path.Base(dir); !slices.Contains(d.Exclude, pattern) {
			d.Exclude = append(d.Exclude, pattern)
		}
	}
	return d
}

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

// under reports whether dir is prefix or inside it ("" is the root).
func under(dir, prefix string) bool {
	return prefix == "" || dir == prefix || strings.HasPrefix(dir, prefix+"/")
}

// Render returns the text of images.hcl for the repository, mirroring to
// target: a header, then one section after another.
func Render(r *Repo, target string) []byte {
	var b strings.Builder
	d := r.Discovery()
	for _, section := range []func(*strings.Builder){
		header,
		func(b *strings.Builder) { targetSection(b, target) },
		func(b *strings.Builder) { discoverSection(b, r, d) },
		registrySection,
	} {
		section(&b)
	}
	return hclwrite.Format([]byte(b.String()))
}

func header(b *strings.Builder) {
	b.WriteString(`# images.hcl: where imagesync finds the container images this repository
# needs, and where it mirrors them. Written by "imagesync init" from what it
# found in the repository; edit it freely (README, section images.hcl).
# Next: "imagesync lock" pins every image to a digest in images.lock.
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

func discoverSection(b *strings.Builder, r *Repo, d Discovery) {
	b.WriteString("\n# Where the images are found.\ndiscover {\n")
	if len(d.Compose) > 0 {
		b.WriteString("  # The compose project, its files merged in order like `docker compose -f a -f b`.\n")
		fmt.Fprintf(b, "  compose = %s\n", list(d.Compose))
	} else {
		b.WriteString("  # No compose file found (compose.yaml, docker-compose.yml, ...).\n  # compose = [\"docker-compose.yml\"]\n")
	}
	if len(d.Others) > 0 {
		b.WriteString("  # Other compose projects found; to mirror one of them instead, list its files\n  # above (and its .env in env_files):\n")
		for _, p := range d.Others {
			fmt.Fprintf(b, "  #   %s\n", strings.Join(p.Files, ", "))
		}
	}
	if len(d.EnvFiles) > 0 {
		b.WriteString("  # Variables for compose interpolation; the OS environment is not read.\n")
		fmt.Fprintf(b, "  env_files = %s\n", list(d.EnvFiles))
	}
	if len(d.Dockerfiles) > 0 {
		fmt.Fprintf(b, "  # Dockerfiles scanned for the images they are built from (doublestar globs),\n  # covering the %s found.\n",
			plural(len(r.Dockerfiles), "Dockerfile"))
		fmt.Fprintf(b, "  dockerfiles = %s\n", list(d.Dockerfiles))
	} else {
		b.WriteString("  # No Dockerfile found.\n  # dockerfiles = [\"**/Dockerfile*\"]\n")
	}
	if len(d.Exclude) > 0 {
		b.WriteString("  # Paths the dockerfiles globs never scan: templates, backups, other projects' code.\n")
		fmt.Fprintf(b, "  exclude = %s\n", list(d.Exclude))
	}
	kubeSection(b, d.Helm)
	b.WriteString("}\n")
}

// kubeSection proposes a helm block per chart found, and shows how plain
// manifests and kustomize overlays are listed.
func kubeSection(b *strings.Builder, releases []HelmRelease) {
	if len(releases) > 0 {
		b.WriteString("\n  # Helm charts found, each rendered offline as one release named by the label\n" +
			"  # (its templates, hooks and vendored subcharts; run `helm dependency build` first).\n")
	} else {
		b.WriteString("\n  # No Helm chart found (Chart.yaml).\n  # helm \"app\" { chart = \"deploy/chart\" }\n")
	}
	for _, h := range releases {
		fmt.Fprintf(b, "  helm %s {\n    chart = %s\n", quote(h.Name), quote(h.Chart))
		if len(h.Values) > 0 {
			fmt.Fprintf(b, "    # values = %s # like helm -f, in order\n", list(h.Values))
		}
		b.WriteString("    # namespace = \"default\"\n    # set       = { \"image.tag\" = \"v1\" } # like helm --set, typed as written\n  }\n")
	}
	b.WriteString("  # Kubernetes manifests (doublestar globs) and kustomize directories:\n" +
		"  # kubernetes = [\"deploy/**/*.yaml\"]\n  # kustomize  = [\"deploy/overlays/prod\"]\n")
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

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

package scaffold

import (
	"fmt"
	"strings"
)

func discoverSection(b *strings.Builder, d *Discovery) {
	b.WriteString("\n# Where the images are found.\ndiscover {\n")
	composeSection(b, d)
	dockerfileSection(b, d)
	helmSection(b, d.Helm)
	kustomizeSection(b, d.Kustomize)
	kubernetesSection(b, d.Kubernetes)
	b.WriteString("}\n")
}

func composeSection(b *strings.Builder, d *Discovery) {
	if len(d.Projects) == 0 {
		b.WriteString("  # No compose file found (compose.yaml, docker-compose.yml, ...).\n" +
			"  # compose_project \"app\" { files = [\"docker-compose.yml\"] }\n")
		return
	}
	b.WriteString("  # Compose projects, each loaded like `docker compose -f FILE...` in the folder of its\n" +
		"  # first file, under the name of its label (a file's top-level name: wins), every profile.\n")
	if d.NoCompose {
		b.WriteString("  # No default compose file: the root's is left out (below).\n  compose = []\n")
	}
	for _, p := range d.Projects {
		var t strings.Builder
		fmt.Fprintf(&t, "compose_project %s {\n  files = %s\n", quote(p.Name), list(p.Files))
		if len(p.EnvFiles) > 0 {
			fmt.Fprintf(&t, "  env_files = %s\n", list(p.EnvFiles))
		}
		t.WriteString("}\n")
		if p.Why != "" {
			b.WriteString("  # " + p.Why + ".\n")
		}
		block(b, t.String(), p.LeftOut)
	}
}

func dockerfileSection(b *strings.Builder, d *Discovery) {
	if len(d.Dockerfiles) == 0 {
		b.WriteString("\n  # No Dockerfile found.\n  # dockerfiles = [\"**/Dockerfile*\"]\n")
	} else {
		b.WriteString("\n  # Dockerfiles scanned for the images they are built from (doublestar globs); those\n" +
			"  # a compose service builds are scanned with the service's arguments and target.\n")
		fmt.Fprintf(b, "  dockerfiles = %s\n", list(d.Dockerfiles))
	}
	if len(d.BuildArgs) > 0 {
		b.WriteString("  # Build arguments a FROM needs and no compose service gives (--build-arg, for every\n" +
			"  # Dockerfile scanned, and the default of every compose build).\n  build_args = {\n")
		for _, a := range d.BuildArgs {
			buildArg(b, a)
		}
		b.WriteString("  }\n")
	}
	if len(d.Exclude) > 0 {
		b.WriteString("  # Paths the dockerfiles globs never scan.\n  exclude = [\n")
		for _, e := range d.Exclude {
			fmt.Fprintf(b, "    %s, # %s\n", quote(e.Pattern), e.Why)
		}
		b.WriteString("  ]\n")
	}
}

// buildArg writes one build_args entry with where its value comes from.
func buildArg(b *strings.Builder, a BuildArg) {
	files := strings.Join(a.Files, ", ")
	if a.Placeholder() {
		fmt.Fprintf(b, "    # PLACEHOLDER: the FROM of %s needs %s and the repository gives no value:\n"+
			"    # set it, or lock fails naming the file.\n", files, a.Name)
	} else {
		fmt.Fprintf(b, "    # The FROM of %s needs %s: the value %s gives.\n", files, a.Name, a.From)
	}
	if len(a.Others) > 0 {
		fmt.Fprintf(b, "    # Also given: %s.\n", strings.Join(a.Others, "; "))
	}
	if len(a.Changes) > 0 {
		fmt.Fprintf(b, "    # It also changes what %s is built from (its own ARG default is overridden).\n", strings.Join(a.Changes, ", "))
	}
	fmt.Fprintf(b, "    %s = %s\n", quote(a.Name), quote(a.Value))
}

func helmSection(b *strings.Builder, releases []HelmRelease) {
	if len(releases) == 0 {
		b.WriteString("\n  # No Helm chart found (Chart.yaml).\n  # helm \"app\" { chart = \"deploy/chart\" }\n")
		return
	}
	b.WriteString("\n  # Helm charts, each rendered offline as one release named by the label (its templates,\n" +
		"  # hooks and vendored subcharts); one more release per values file of the chart.\n")
	for _, h := range releases {
		var t strings.Builder
		fmt.Fprintf(&t, "helm %s {\n  chart = %s\n", quote(h.Name), quote(h.Chart))
		if h.ValuesFrom != "" {
			fmt.Fprintf(&t, "  # The chart needs values from outside it: those %s passes to helm first.\n", h.ValuesFrom)
		}
		if len(h.Values) > 0 {
			fmt.Fprintf(&t, "  values = %s\n", list(h.Values))
		}
		t.WriteString("  # namespace = \"default\"\n  # set       = { \"image.tag\" = \"v1\" } # like helm --set, typed as written\n}\n")
		block(b, t.String(), h.LeftOut)
	}
}

func kustomizeSection(b *strings.Builder, dirs []KustomizeDir) {
	if len(dirs) == 0 {
		b.WriteString("\n  # No kustomization found.\n  # kustomize = [\"deploy/overlays/prod\"]\n")
		return
	}
	b.WriteString("\n  # kustomize overlays, each built like `kustomize build DIR`; the bases and components\n" +
		"  # they use are reached through them, not listed.\n  kustomize = [\n")
	for _, k := range dirs {
		if k.LeftOut != "" {
			fmt.Fprintf(b, "    # Left out: %s\n    # %s,\n", k.LeftOut, quote(k.Dir))
			continue
		}
		fmt.Fprintf(b, "    %s,", quote(k.Dir))
		if len(k.Bases) > 0 {
			fmt.Fprintf(b, " # uses %s", strings.Join(k.Bases, ", "))
		}
		b.WriteString("\n")
	}
	b.WriteString("  ]\n")
}

func kubernetesSection(b *strings.Builder, globs []string) {
	if len(globs) == 0 {
		b.WriteString("\n  # No Kubernetes manifests found outside charts and kustomizations.\n  # kubernetes = [\"deploy/**/*.yaml\"]\n")
		return
	}
	b.WriteString("\n  # Kubernetes manifests outside charts and kustomizations (doublestar globs).\n  kubernetes = [\n")
	for _, g := range globs {
		fmt.Fprintf(b, "    %s,\n", quote(g))
	}
	b.WriteString("  ]\n")
}

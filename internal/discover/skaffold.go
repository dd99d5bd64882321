package discover

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/imagesync/imagesync/internal/dockerfile"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/kube"
)

// skaffoldFile is skaffold's configuration, read next to images.hcl when
// present: its artifacts are images the repository builds, and manifests
// name them by placeholders skaffold replaces at deploy time.
const skaffoldFile = "skaffold.yaml"

// skaffoldConfig is what discovery takes from skaffold.yaml.
type skaffoldConfig struct {
	artifacts map[string]skaffoldArtifact // by image
}

// skaffoldArtifact is one entry of build.artifacts.
type skaffoldArtifact struct {
	Image   string `yaml:"image"`
	Context string `yaml:"context"`
	Docker  *struct {
		Dockerfile string             `yaml:"dockerfile"`
		BuildArgs  map[string]*string `yaml:"buildArgs"`
		Target     string             `yaml:"target"`
	} `yaml:"docker"`
	// builder names another builder than a Dockerfile's (jib, ko,
	// buildpacks, bazel, custom, ...), "" for docker.
	builder string
}

// skaffoldDocument is one configuration of skaffold.yaml: its own build,
// and its profiles'.
type skaffoldDocument struct {
	Build struct {
		Artifacts []yaml.Node `yaml:"artifacts"`
	} `yaml:"build"`
	Profiles []struct {
		Build struct {
			Artifacts []yaml.Node `yaml:"artifacts"`
		} `yaml:"build"`
	} `yaml:"profiles"`
}

// dockerfileBuilders are the artifact keys of skaffold's builders that
// build a Dockerfile as docker does.
var dockerfileBuilders = []string{"image", "context", "docker", "sync", "requires", "platforms", "hooks"}

// readSkaffold reads skaffold.yaml's artifacts, every configuration of
// the file and its profiles, the first entry of an image winning (the
// configuration's own build before its profiles'). No file is no
// artifact.
func (c *collector) readSkaffold() (*skaffoldConfig, error) {
	data, err := c.readRepoFile(skaffoldFile)
	if errors.Is(err, fs.ErrNotExist) {
		return &skaffoldConfig{artifacts: map[string]skaffoldArtifact{}}, nil
	}
	if err != nil {
		return &skaffoldConfig{artifacts: map[string]skaffoldArtifact{}}, err
	}
	return parseSkaffold(data)
}

// parseSkaffold reads the artifacts of skaffold.yaml's content: what
// parses before a problem comes with it.
func parseSkaffold(data []byte) (*skaffoldConfig, error) {
	sk := &skaffoldConfig{artifacts: map[string]skaffoldArtifact{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc skaffoldDocument
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return sk, nil
		} else if err != nil {
			return sk, fmt.Errorf("%s: %w", skaffoldFile, err)
		}
		lists := [][]yaml.Node{doc.Build.Artifacts}
		for _, p := range doc.Profiles {
			lists = append(lists, p.Build.Artifacts)
		}
		for _, list := range lists {
			for i := range list {
				a, err := decodeArtifact(&list[i])
				if err != nil {
					return sk, fmt.Errorf("%s: build.artifacts: %w", skaffoldFile, err)
				}
				if _, seen := sk.artifacts[a.Image]; !seen && a.Image != "" {
					sk.artifacts[a.Image] = a
				}
			}
		}
	}
}

// decodeArtifact reads one artifact and the builder it names.
func decodeArtifact(n *yaml.Node) (skaffoldArtifact, error) {
	var a skaffoldArtifact
	if err := n.Decode(&a); err != nil {
		return a, err
	}
	var keys map[string]any
	if err := n.Decode(&keys); err != nil {
		return a, err
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !slices.Contains(dockerfileBuilders, k) {
			a.builder = k
			break
		}
	}
	return a, nil
}

// skaffoldBuilds makes a build of every skaffold artifact that a
// placeholder of the Kubernetes objects names and no compose build
// already is, so that discover.dockerfiles does not scan its Dockerfile
// again as one no build uses.
func (c *collector) skaffoldBuilds() {
	var wanted []string
	for _, f := range c.kubeFound {
		if kube.Bare(f.value) && !slices.Contains(wanted, f.value) && c.buildNamed(f.value) == nil {
			wanted = append(wanted, f.value)
		}
	}
	if len(wanted) == 0 {
		return
	}
	sk, err := c.readSkaffold()
	c.errs.add(err)
	sort.Strings(wanted)
	for _, image := range wanted {
		a, ok := sk.artifacts[image]
		if !ok {
			continue
		}
		loc := skaffoldFile + "#build.artifacts[" + image + "]"
		if a.builder != "" {
			c.warnings = append(c.warnings, fmt.Sprintf("%s: built with skaffold's %s builder, not from a Dockerfile: imagesync cannot build it, "+
				"so the manifests naming %q are left out", loc, a.builder, image))
			continue
		}
		c.errs.add(c.skaffoldBuild(a, loc))
	}
}

// skaffoldBuild makes the build of one artifact, as skaffold's docker
// builder builds it: the context relative to skaffold.yaml, the
// Dockerfile relative to the context, its buildArgs over
// discover.build_args, its target.
func (c *collector) skaffoldBuild(a skaffoldArtifact, loc string) error {
	ref, err := imageref.Parse(a.Image)
	if err != nil {
		return fmt.Errorf("%s: %w", loc, err)
	}
	b := &Build{Ref: ref, Services: []string{"skaffold/" + a.Image}, Sources: []string{loc},
		Context: path.Clean("./" + a.Context), Platforms: slices.Clone(c.cfg.Builder.Platforms)}
	b.Dockerfile = path.Join(b.Context, "Dockerfile")
	args := map[string]string{}
	if d := a.Docker; d != nil {
		if d.Dockerfile != "" {
			b.Dockerfile = path.Join(b.Context, d.Dockerfile)
		}
		b.TargetStage = d.Target
		for k, v := range d.BuildArgs {
			if v != nil {
				args[k] = *v
			}
		}
	}
	b.Args = mergeArgs(c.cfg.Discover.BuildArgs, args)
	firstPlatform := ""
	if len(b.Platforms) > 0 {
		firstPlatform = b.Platforms[0]
	}
	sort.Strings(b.Platforms)
	if _, err := c.repo.Resolve(b.Context); err != nil {
		return fmt.Errorf("%s: context: %w", loc, err)
	}
	data, err := c.readRepoFile(b.Dockerfile)
	if err != nil {
		return fmt.Errorf("%s: read Dockerfile: %w", loc, err)
	}
	if abs, err := c.repo.Resolve(b.Dockerfile); err == nil {
		c.scanned[c.realPath(abs)] = b
	}
	found, err := scanDockerfile(data, dockerfile.Options{Path: b.Dockerfile, BuildArgs: b.Args, Target: b.TargetStage, Platform: firstPlatform})
	if err != nil {
		return fmt.Errorf("%s: %w", loc, err)
	}
	c.builds[ref] = b
	b.Scan = found
	for _, f := range found {
		c.addBase(b, f.Ref, f.Locator)
	}
	return nil
}

// readRepoFile reads a file of the repository by its slash path relative
// to the root, refusing one that leaves it: the read path of the files
// discovery reads beyond images.hcl's own lists (skaffold.yaml and the
// Dockerfiles it names).
func (c *collector) readRepoFile(rel string) ([]byte, error) {
	abs, err := c.repo.Resolve(rel)
	if err != nil {
		return nil, err
	}
	return c.repo.ReadFile(abs)
}

package render

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/imageref"
)

// resetTag is docker compose's YAML tag that removes an attribute the
// files before the override set (compose-go's loader/reset.go).
const resetTag = "!reset"

// ComposeOptions say what the override's header tells its reader.
type ComposeOptions struct {
	// Files are the project's compose files, as the user passes them to
	// docker compose -f; Out is the override's own name.
	Files []string
	Out   string
}

// ComposeResult is an override file and the services it leaves alone.
type ComposeResult struct {
	Data []byte
	// Services counts the services the override pins.
	Services int
	// LeftAlone names each service whose image images.lock does not hold
	// (left out with exclude, say), with why: compose runs it as its own
	// files say.
	LeftAlone []string
}

// Compose writes a compose override that runs every service of the
// project, whatever its profiles, from the target registry by digest:
// `image: <target repository>@<digest>`, and for a service that builds
// its image `build: !reset null`, so that compose pulls the mirrored
// build instead of building it again. A built image must be in the target
// with the locked inputs; every service whose is not is listed in one
// error, which says to run apply first.
func Compose(project *discover.ComposeProject, pins *Pins, opts ComposeOptions) (*ComposeResult, error) {
	res := &ComposeResult{}
	services := &yaml.Node{Kind: yaml.MappingNode}
	var notBuilt notBuiltError
	for _, svc := range project.Services { // sorted by name
		pin, note := servicePin(project.ServiceID(svc.Name), svc, pins)
		switch {
		case note != "":
			res.LeftAlone = append(res.LeftAlone, fmt.Sprintf("service %s: %s", svc.Name, note))
			continue
		case pin.Problem != "":
			notBuilt.add("service "+svc.Name, pin.Problem)
			continue
		}
		entry := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("image"), str(pin.Ref())}}
		if svc.Build != nil {
			entry.Content = append(entry.Content, str("build"), &yaml.Node{Kind: yaml.ScalarNode, Tag: resetTag, Value: "null"})
		}
		services.Content = append(services.Content, str(svc.Name), entry)
		res.Services++
	}
	if err := notBuilt.err(); err != nil {
		return nil, err
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: composeHeader(project, opts),
		Content: []*yaml.Node{{Kind: yaml.MappingNode, Content: []*yaml.Node{str("services"), services}}}}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("write the compose override: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write the compose override: %w", err)
	}
	res.Data = b.Bytes()
	return res, nil
}

// servicePin finds what a service runs in the pins: the build it builds
// (the build of the service's id, ComposeProject.ServiceID), or the image
// it names (which may be another service's build). A note says why a
// service is left alone.
func servicePin(id string, svc discover.ComposeService, pins *Pins) (imagePin, string) {
	if svc.Build != nil {
		if pin, ok := pins.builtBy(id); ok {
			return pin, ""
		}
		return imagePin{}, "its build is not in images.lock (left as it is)"
	}
	if svc.Image == "" {
		return imagePin{}, "no image (left as it is)"
	}
	ref, err := imageref.Parse(svc.Image)
	if err != nil {
		return imagePin{}, fmt.Sprintf("image %q: %v (left as it is)", svc.Image, err)
	}
	if pin, ok := pins.lookup(ref); ok {
		return pin, ""
	}
	return imagePin{}, fmt.Sprintf("%s is not in images.lock (left as it is)", ref)
}

// composeHeader says where the file comes from and how to use it.
func composeHeader(project *discover.ComposeProject, opts ComposeOptions) string {
	var args []string
	for _, f := range opts.Files {
		args = append(args, "-f", f)
	}
	args = append(args, "-f", opts.Out)
	return fmt.Sprintf(`# Written by "imagesync render compose" from images.lock: every service of the
# compose project %s runs from the target registry by the locked digest.
# Do not edit; render it again after "imagesync apply". Use it after the
# project's own files:
#   docker compose %s up`, project.Name, strings.Join(args, " "))
}

// str is a YAML string scalar, quoted when it would read as another type.
func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

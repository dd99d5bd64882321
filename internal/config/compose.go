package config

import (
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/hashicorp/hcl/v2"
)

// ComposeProject is a discover.compose_project block: one compose project,
// loaded as `docker compose -f a -f b` loads it, independently of the
// other projects.
type ComposeProject struct {
	// Name is the block label. It names the project unless the files'
	// top-level `name:` (or COMPOSE_PROJECT_NAME in its variables) says
	// otherwise, as a folder name would for docker compose; unlike a folder
	// name it is the same in every clone.
	Name string
	// Files are compose files relative to Dir, layered in order.
	Files []string
	// ProjectDirectory is relative to Dir; "" means the folder of the
	// first file, as for `docker compose -f`.
	ProjectDirectory string
	// EnvFiles are env files for interpolation relative to Dir; nil means
	// .env in the project directory when present.
	EnvFiles []string
	// Profiles are the profiles whose services count; nil means every
	// profile, as "*" does.
	Profiles []string
	Range    hcl.Range // of the block header
}

// AllProfiles reports whether every service counts, whatever its profiles.
func (p *ComposeProject) AllProfiles() bool {
	return p.Profiles == nil || contains(p.Profiles, "*")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var composeProjectSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "files", Required: true}, {Name: "project_directory"}, {Name: "env_files"}, {Name: "profiles"},
	},
}

// composeProject decodes a discover.compose_project block.
func (d *decoder) composeProject(block *hcl.Block, seen map[string]*ComposeProject) {
	name, labelRange := block.Labels[0], block.LabelRanges[0]
	if name == "" || loader.NormalizeProjectName(name) != name {
		d.errorf(&labelRange, "Invalid compose project name",
			"%q must consist only of lowercase letters, digits, '-' and '_', and start with a letter or a digit, as docker compose's project names do.", name)
		return
	}
	if prev, ok := seen[name]; ok {
		d.errorf(&labelRange, "Duplicate compose_project block", "Compose project %q is already declared at %s.", name, prev.Range)
		return
	}
	p := &ComposeProject{Name: name, Range: block.DefRange}
	seen[name] = p
	d.cfg.Discover.ComposeProjects = append(d.cfg.Discover.ComposeProjects, p)

	content, diags := block.Body.Content(composeProjectSchema)
	d.diags = append(d.diags, diags...)
	if attr, ok := content.Attributes["files"]; ok {
		p.Files = d.paths(attr)
		if p.Files != nil && len(p.Files) == 0 {
			d.errorf(attr.Expr.Range().Ptr(), "No compose files", "A compose project needs at least one compose file.")
		}
	}
	if attr, ok := content.Attributes["project_directory"]; ok && d.decode(attr, &p.ProjectDirectory) {
		if err := insideRepo(p.ProjectDirectory); err != nil {
			d.errorf(attr.Expr.Range().Ptr(), "Path outside the repository", "%q %s.", p.ProjectDirectory, err)
		}
	}
	if attr, ok := content.Attributes["env_files"]; ok {
		p.EnvFiles = d.paths(attr)
	}
	if attr, ok := content.Attributes["profiles"]; ok && d.decode(attr, &p.Profiles) {
		if p.Profiles == nil {
			p.Profiles = []string{} // only the services without profiles
		}
		for _, prof := range p.Profiles {
			if prof != "*" && (prof == "" || strings.ContainsAny(prof, " \t\n,")) {
				d.errorf(attr.Expr.Range().Ptr(), "Invalid profile", "%q is not a compose profile name (or \"*\" for every profile).", prof)
			}
		}
	}
}

// checkComposeSettings refuses the discover.compose attribute (and the
// env_files attribute, which belongs to it) beside compose_project blocks:
// which files would make which project would be a guess.
func (d *decoder) checkComposeSettings(content *hcl.BodyContent) {
	ds := &d.cfg.Discover
	if len(ds.ComposeProjects) == 0 {
		return
	}
	first := ds.ComposeProjects[0].Range
	for _, name := range []string{"compose", "env_files"} {
		if attr, ok := content.Attributes[name]; ok {
			d.errorf(attr.NameRange.Ptr(), "Conflicting compose settings",
				"discover.%s belongs to the single project of discover.compose, and compose_project blocks are declared (the first at %s): "+
					"move its files into a compose_project block (each block has its own files and env_files).", name, first)
		}
	}
}

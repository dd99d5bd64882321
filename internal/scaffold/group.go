package scaffold

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

// ComposeProject is a compose_project block init proposes: files loaded
// together like `docker compose -f a -f b`, under a name fixed in
// images.hcl so that it does not depend on the checkout's folder.
type ComposeProject struct {
	Name     string   // the block label: compose's name: when a file has one
	Files    []string // in merge order
	EnvFiles []string // the .env of the project's folder, when present
	// Why says why these files are one project (a comment above it).
	Why string
	// LeftOut, when set, is why the block is proposed commented out.
	LeftOut string

	own  string // the file that makes this project: leaving it out leaves the project out
	base bool   // the folder's base project
}

// drop leaves a layer out of the project.
func (p *ComposeProject) drop(file string) {
	p.Files = slices.DeleteFunc(p.Files, func(f string) bool { return f == file })
	if p.base && len(p.Files) == 1 {
		p.Why = p.Files[0] + ": the folder's default compose file"
	}
}

// The grouping rule, per folder (README "What init writes"):
//
//  1. The base is the file docker compose loads by default there
//     (compose.yaml, ..., docker-compose.yml), with its .override file.
//  2. Another compose file of the folder that adds services, or changes
//     those of the base without changing what they run, is layered on the
//     base (`-f base -f file`), in the base's project. Layers come in the
//     order of their names, those that can run alone first.
//  3. A file that changes what some services of the base run (another
//     image or build) is layered on the base in a project of its own,
//     the base's project kept as it is: both sets of images count. So is
//     each of two layers that change one service differently.
//  4. A file that can run alone (every service has an image, a build or
//     extends) and replaces the base (see replaces: a swarm stack, a "use
//     published images" file) is a stack of its own. So is a file in a
//     folder without base.
//  5. A file that cannot run alone is layered on the project whose
//     distinguishing name part its name holds (docker-compose.override.
//     windows.yml on docker-compose.windows.yml), else on the base, if
//     that project defines the services it names without image or build;
//     otherwise it is left out: docker compose refuses it.
//  6. A file another file includes or extends from is part of that file's
//     project; a compose file without services is left out.

// composeProjects groups the repository's own compose files into
// projects and says why each file left out was.
func composeProjects(files []ComposeFile, envFiles []string) ([]ComposeProject, []LeftOut) {
	used := map[string]string{} // file -> the file that includes it
	for _, f := range files {
		for _, u := range f.Uses {
			used[u] = f.Path
		}
	}
	byDir := map[string][]ComposeFile{}
	var left []LeftOut
	for _, f := range files {
		if by, ok := used[f.Path]; ok && by != f.Path {
			left = append(left, LeftOut{Path: f.Path, Reason: "part of " + by + "'s project (include or extends)"})
			continue
		}
		if len(f.Services) == 0 {
			left = append(left, LeftOut{Path: f.Path, Reason: "a compose file that defines no service"})
			continue
		}
		byDir[path.Dir(f.Path)] = append(byDir[path.Dir(f.Path)], f)
	}
	var projects []ComposeProject
	for _, dir := range slices.Sorted(maps.Keys(byDir)) {
		p, l := folderProjects(dir, byDir[dir])
		projects, left = append(projects, p...), append(left, l...)
	}
	for i := range projects {
		env := join(path.Dir(projects[i].Files[0]), ".env")
		if slices.Contains(envFiles, env) {
			projects[i].EnvFiles = []string{env}
		}
	}
	uniqueNames(projects)
	slices.SortFunc(left, func(a, b LeftOut) int { return strings.Compare(a.Path, b.Path) })
	return projects, left
}

// folderProjects applies the rule to the compose files of one folder.
func folderProjects(dir string, files []ComposeFile) ([]ComposeProject, []LeftOut) {
	byName := map[string]ComposeFile{}
	for _, f := range files {
		byName[path.Base(f.Path)] = f
	}
	names := slices.Sorted(maps.Keys(byName))
	var head []ComposeFile // the base and its .override file
	if base := firstPresent(cli.DefaultFileNames, names); base != "" {
		head = append(head, byName[base])
		if override := firstPresent(cli.DefaultOverrideFileNames, names); override != "" {
			head = append(head, byName[override])
		}
	}
	var left []LeftOut
	isHead := map[string]bool{}
	for _, f := range head {
		isHead[f.Path] = true
	}
	if len(head) > 0 && !runsAlone(merge(head)) {
		for _, f := range head {
			left = append(left, noBase(f, undefined(f, ComposeFile{})))
		}
		head = nil
	}
	var layers, partial []ComposeFile
	var stacks []*stack // the variants and the stacks of their own
	for _, n := range names {
		f, base := byName[n], merge(head)
		switch redef := redefines(f, base); {
		case isHead[f.Path]:
		case runsAlone(f) && (len(head) == 0 || redef.any() && replaces(f, base)):
			stacks = append(stacks, &stack{own: f, why: aloneWhy(f, head, redef)})
		case redef.any():
			stacks = append(stacks, &stack{own: f, variant: true, why: fmt.Sprintf("it changes what %s of %s run%s", redef,
				path.Base(head[0].Path), map[bool]string{true: "", false: "s"}[len(redef) > 1])})
		case runsAlone(f):
			layers = append(layers, f)
		default:
			partial = append(partial, f)
		}
	}
	layers, stacks = splitConflicts(layers, stacks)
	for _, f := range partial {
		switch i := attach(f, slices.Concat(head, layers), stacks); {
		case i == -1:
			layers = append(layers, f)
		case i >= 0:
			stacks[i].layers = append(stacks[i].layers, f)
		default:
			left = append(left, noBase(f, undefined(f, merge(slices.Concat(head, layers)))))
		}
	}
	var out []ComposeProject
	baseFiles := slices.Concat(head, layers)
	if len(head) > 0 {
		p := ComposeProject{Name: projectName(dir, "", lastName(baseFiles)), Files: paths(baseFiles), own: head[0].Path, base: true,
			Why: head[0].Path + ": the folder's default compose file"}
		if len(baseFiles) > 1 {
			p.Why = head[0].Path + " with the files layered on it (they add services, or change how those of " + path.Base(head[0].Path) + " run)"
		}
		out = append(out, p)
	}
	for _, s := range stacks {
		out = append(out, s.project(dir, baseFiles))
	}
	return out, left
}

// stack is a project of its own a file makes: a variant of the base (the
// base's files, then it) or a stack that replaces the base.
type stack struct {
	own     ComposeFile
	variant bool
	why     string
	layers  []ComposeFile // the files that cannot run alone layered on it
}

func (s *stack) project(dir string, baseFiles []ComposeFile) ComposeProject {
	files := append([]ComposeFile{s.own}, s.layers...)
	why := s.own.Path + ": a stack of its own (" + s.why + ")"
	if s.variant {
		files = slices.Concat(baseFiles, files)
		why = fmt.Sprintf("%s layered on %s in a project of its own (%s)", s.own.Path, path.Base(baseFiles[0].Path), s.why)
	}
	if len(s.layers) > 0 {
		why += ", with the files that change its services layered on it"
	}
	return ComposeProject{Name: projectName(dir, path.Base(s.own.Path), lastName(files)), Files: paths(files), own: s.own.Path, Why: why}
}

// aloneWhy says why a file that can run alone is a stack of its own.
func aloneWhy(f ComposeFile, head []ComposeFile, redef serviceList) string {
	if len(head) == 0 {
		return "its folder has no compose.yaml or docker-compose.yml"
	}
	base := path.Base(head[0].Path)
	if definesAll(f, merge(head)) {
		return fmt.Sprintf("it defines every service of %s again, with another image or build for %s", base, redef)
	}
	return fmt.Sprintf("it runs images for %s, which %s builds, and the rest of its stack", redef, base)
}

// splitConflicts makes a project of its own of each layer that redefines
// a service another layer redefines too: layered together, the last
// would silently win.
func splitConflicts(layers []ComposeFile, stacks []*stack) ([]ComposeFile, []*stack) {
	var kept []ComposeFile
	for i, f := range layers {
		others := slices.Concat(layers[:i], layers[i+1:])
		if slices.ContainsFunc(others, func(o ComposeFile) bool { return setsSame(f, o) }) {
			stacks = append(stacks, &stack{own: f, variant: true, why: "it redefines " + sortedServices(f).String() + ", as another layer does"})
		} else {
			kept = append(kept, f)
		}
	}
	return kept, stacks
}

// replaces reports whether f, which can run alone and redefines some
// services of base, is another stack rather than a layer: it defines
// every service of base again (a swarm stack), or it runs published
// images for services base builds and carries base's other services too
// (a "use published images" file). Layered on base, such a file would
// silently rename base's builds to its images.
func replaces(f, base ComposeFile) bool {
	if definesAll(f, base) {
		return true
	}
	published, others := false, ComposeFile{Services: map[string]ComposeService{}}
	for name, b := range base.Services {
		s, ok := f.Services[name]
		switch {
		case b.Build == "":
			others.Services[name] = b
		case ok && s.Image != "" && s.Build == "":
			published = true
		}
	}
	return published && len(others.Services) > 0 && definesAll(f, others)
}

// definesAll reports whether f defines every service of base.
func definesAll(f, base ComposeFile) bool {
	for name := range base.Services {
		if _, ok := f.Services[name]; !ok {
			return false
		}
	}
	return true
}

// noBase says why a file that cannot run alone is left out: the services
// it names without image or build that no file of its folder defines.
func noBase(f ComposeFile, missing serviceList) LeftOut {
	what := "its service " + missing.String() + " has"
	if len(missing) > 1 {
		what = "its services " + missing.String() + " have"
	}
	return LeftOut{Path: f.Path, Reason: what + " neither image nor build, and no compose file of its folder defines " +
		map[bool]string{true: "them", false: "it"}[len(missing) > 1] + " to layer it on (docker compose refuses it alone)"}
}

// undefined lists the services f names without image, build or extends
// that g does not define either.
func undefined(f, g ComposeFile) serviceList {
	var out serviceList
	for _, name := range incomplete(f) {
		if s, ok := g.Services[name]; !ok || !s.complete() {
			out = append(out, name)
		}
	}
	return out
}

// attach picks what a file that cannot run alone is layered on: a stack
// whose distinguishing name part is in the file's name
// (docker-compose.override.windows.yml on docker-compose.windows.yml),
// else the base (-1), else the first stack, each only when it defines
// every service the file lacks an image or build for; -2 when none does.
func attach(f ComposeFile, base []ComposeFile, stacks []*stack) int {
	words := strings.FieldsFunc(strings.ToLower(path.Base(f.Path)), func(r rune) bool { return r == '.' || r == '-' || r == '_' })
	for i, s := range stacks {
		if slices.Contains(words, fileStem(path.Base(s.own.Path))) && defines(s.merged(base), f) {
			return i
		}
	}
	if len(base) > 0 && defines(merge(base), f) {
		return -1
	}
	for i, s := range stacks {
		if defines(s.merged(base), f) {
			return i
		}
	}
	return -2
}

// merged is what the stack's files say of each service, with base's
// files first for a variant.
func (s *stack) merged(base []ComposeFile) ComposeFile {
	if s.variant {
		return merge(append(slices.Clone(base), s.own))
	}
	return merge([]ComposeFile{s.own})
}

// defines reports whether g says what every service runs that f names
// without image, build or extends.
func defines(g, f ComposeFile) bool { return len(undefined(f, g)) == 0 }

// merge is what files say of each service together: the last image and
// build given, extends if any extends.
func merge(files []ComposeFile) ComposeFile {
	m := ComposeFile{Services: map[string]ComposeService{}}
	for _, f := range files {
		for name, s := range f.Services {
			prev := m.Services[name]
			if s.Image != "" {
				prev.Image = s.Image
			}
			if s.Build != "" {
				prev.Build = s.Build
			}
			prev.Extends = prev.Extends || s.Extends
			m.Services[name] = prev
		}
	}
	return m
}

// serviceList is a sorted list of service names, written "a, b and c".
type serviceList []string

func (l serviceList) any() bool { return len(l) > 0 }

func (l serviceList) String() string {
	switch len(l) {
	case 0:
		return ""
	case 1:
		return l[0]
	}
	return strings.Join(l[:len(l)-1], ", ") + " and " + l[len(l)-1]
}

// redefines lists the services of base that f gives another image or
// build.
func redefines(f, base ComposeFile) serviceList {
	var out serviceList
	for name, s := range f.Services {
		b, ok := base.Services[name]
		if ok && s.sets() && (s.Image != b.Image || s.Build != b.Build) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// runsAlone reports whether every service of f says what it runs.
func runsAlone(f ComposeFile) bool {
	for _, s := range f.Services {
		if !s.complete() {
			return false
		}
	}
	return true
}

// incomplete names f's services without image, build or extends.
func incomplete(f ComposeFile) serviceList {
	var out serviceList
	for name, s := range f.Services {
		if !s.complete() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// setsSame reports whether two layers both set the image or build of one
// service, differently: the later would silently win over the other.
func setsSame(a, b ComposeFile) bool {
	for name, s := range a.Services {
		o, ok := b.Services[name]
		if ok && s.sets() && o.sets() && (s.Image != o.Image || s.Build != o.Build) {
			return true
		}
	}
	return false
}

func sortedServices(f ComposeFile) serviceList {
	var out serviceList
	for name, s := range f.Services {
		if s.sets() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func paths(files []ComposeFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}

// lastName is the name: of the last file that has one, as compose merges
// it.
func lastName(files []ComposeFile) string {
	name := ""
	for _, f := range files {
		if f.Name != "" {
			name = f.Name
		}
	}
	return name
}

// projectName is a project's name: compose's own when a file gives one
// (it wins anyway), else one made of the folder inside the repository
// ("app" for the root) and, for a file that is not the folder's base, the
// part of its name that tells it apart (docker-compose.images.yml:
// "images"). Never the checkout's folder: the same in every clone.
func projectName(dir, file, composeName string) string {
	if n := sanitizeName(composeName); n != "" {
		return n
	}
	name := "app"
	if dir != "." {
		name = sanitizeName(dir)
	}
	if file != "" {
		if stem := fileStem(file); stem != "" {
			name += "-" + stem
		}
	}
	return name
}

// fileStem is what tells a compose file apart from the base: its name
// less the extension and a "docker-compose"/"compose" prefix.
func fileStem(file string) string {
	stem := strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(file), ".yml"), ".yaml")
	for _, prefix := range []string{"docker-compose", "compose"} {
		if rest, ok := strings.CutPrefix(stem, prefix); ok {
			stem = rest
			break
		}
	}
	return sanitizeName(stem)
}

// sanitizeName makes s a compose project name: lower case letters,
// digits, dashes and underscores, starting with a letter or digit.
func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-_")
}

// uniqueNames makes the projects' names unique, adding -2, -3, ... in
// order.
func uniqueNames(projects []ComposeProject) {
	used := map[string]bool{}
	for i := range projects {
		name := projects[i].Name
		for n := 2; used[name]; n++ {
			name = fmt.Sprintf("%s-%d", projects[i].Name, n)
		}
		used[name] = true
		projects[i].Name = name
	}
}

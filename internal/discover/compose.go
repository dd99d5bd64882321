package discover

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/imagesync/imagesync/internal/excerpt"
	"github.com/imagesync/imagesync/internal/repofs"
)

// ComposeOptions says which compose files to load and with which variables.
type ComposeOptions struct {
	// Root is the absolute directory of images.hcl. Relative paths below
	// and all returned paths are relative to it, slash-separated.
	Root string
	// Files are the compose files in merge order, like
	// `docker compose -f a -f b`. Empty means compose's default file found
	// in Root plus its override file; when none is found LoadCompose
	// returns a nil project and a nil error: there is nothing to scan.
	Files []string
	// EnvFiles are the env files for interpolation. Nil means ".env" in
	// Root if present; an explicitly listed file that is missing is an error.
	EnvFiles []string
	// Env are explicit variables; they win over EnvFiles.
	Env map[string]string
	// UseOSEnv makes the process environment visible to interpolation; it
	// loses to Env but wins over EnvFiles, as docker compose does for the
	// OS environment against .env. Without it the OS environment is never
	// read, so that a lockfile does not depend on who ran the tool.
	UseOSEnv bool
	// Name names the project unless the files' top-level `name:` or
	// COMPOSE_PROJECT_NAME says otherwise, as the folder does for docker
	// compose. "" means DefaultProjectName's rule.
	Name string
	// ProjectDirectory is relative to Root; "" means the folder of the
	// first file, as for `docker compose -f`. Relative paths of the files
	// (build contexts, env files) are resolved against it.
	ProjectDirectory string
	// Profiles are the active profiles: a service with profiles counts only
	// when one of them is active. Nil means every profile, as "*" does.
	Profiles []string
	// Qualifier, when set, is put in every locator ("compose:NAME:") and
	// in the service names builds go by ("NAME/service"): discovery sets
	// it to the project's label when images.hcl declares several projects.
	Qualifier string
}

// DefaultProjectName is the name of a project that neither images.hcl
// (a compose_project label), its files (`name:`) nor its variables
// (COMPOSE_PROJECT_NAME) name: the folder of its first file as named
// inside the repository, or "default" for a file next to images.hcl,
// whose folder's name is the clone's. docker compose would take the
// folder's name on disk, which makes the name of a built image depend on
// where the repository is cloned. firstFile is relative to the directory
// of images.hcl, slash-separated.
func DefaultProjectName(firstFile string) string {
	dir := path.Dir(path.Clean(firstFile))
	if dir == "." {
		return "default"
	}
	if name := loader.NormalizeProjectName(path.Base(dir)); name != "" {
		return name
	}
	return "default"
}

// ComposeProject is the part of a loaded compose project that decides images.
type ComposeProject struct {
	Name     string           // project name as compose computes it
	Files    []string         // the top-level compose files loaded, relative to Root
	Services []ComposeService // sorted by name; the services of the active profiles
	// Qualifier is ComposeOptions.Qualifier: the project's label when
	// images.hcl declares several projects, else "".
	Qualifier string
}

// ServiceID is the name a build of the service goes by in images.lock:
// the service's name, qualified by the project's label ("test/sut") when
// images.hcl declares several projects, whose services may share names.
func (p *ComposeProject) ServiceID(service string) string {
	if p.Qualifier == "" {
		return service
	}
	return p.Qualifier + "/" + service
}

// ComposeService is one service of a compose project.
type ComposeService struct {
	Name         string
	Image        string        // as written, after interpolation; "" if none
	ImageLocator string        // e.g. "docker-compose.yml#services.db.image"; "" without image
	Build        *ComposeBuild // nil without build:
}

// ComposeBuild is a service's build section.
type ComposeBuild struct {
	Context            string            // relative to Root, slash-separated ("." for Root itself)
	Dockerfile         string            // relative to Root, slash-separated; "" when Inline is set
	Inline             string            // dockerfile_inline
	Target             string            // build.target
	Args               map[string]string // build.args after interpolation; args without value and unset are dropped
	AdditionalContexts map[string]string // values as compose gives them, local paths made relative to Root
	Platforms          []string          // build.platforms as written
	Locator            string            // e.g. "docker-compose.yml#services.backend.build"
}

// LoadCompose loads the compose project opts describes with compose-go,
// every service whatever its profiles, and returns what decides its
// images. A variable that is unset and has no default is an error when it
// lands in a service's image or build section (compose would silently
// substitute ""); no value of any other field fails the load, not even one
// compose itself would refuse (see lenientLoad). Build contexts and
// Dockerfiles must be local and inside Root.
//
// Locators name the top-level compose file (of Files) that last changed the
// value, found by loading the prefixes Files[:k]: compose-go merges
// included and extended files before handing back a model and keeps no
// per-field origin, so a value that comes through include or extends is
// attributed to the top-level file that pulls it in.
//
// An error about some services comes with the project of the others, so
// that discovery can report their problems in the same run.
func LoadCompose(ctx context.Context, opts ComposeOptions) (*ComposeProject, error) {
	if !filepath.IsAbs(opts.Root) {
		return nil, fmt.Errorf("load compose: root %q is not an absolute path", opts.Root)
	}
	repo, err := repofs.Open(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("load compose: %w", err)
	}
	defer repo.Close()
	l := &composeLoader{root: filepath.Clean(opts.Root), repo: repo, opts: opts}
	files, err := l.composeFiles(opts.Files)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	l.files = files
	for _, f := range files {
		l.rel = append(l.rel, l.relative(f))
		content, err := repo.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("load compose %s: %w", l.relative(f), err)
		}
		l.contents = append(l.contents, content)
	}
	l.dir = filepath.Dir(files[0])
	if opts.ProjectDirectory != "" {
		if l.dir = l.abs(opts.ProjectDirectory); !l.inside(l.dir) {
			return nil, fmt.Errorf("load compose %s: project directory %s is outside %s", strings.Join(l.rel, ", "), l.dir, l.root)
		}
	}
	if l.env, err = composeEnv(repo, l.dir, opts); err != nil {
		return nil, fmt.Errorf("load compose %s: %w", strings.Join(l.rel, ", "), err)
	}
	l.graph = newComposeGraph(repo)
	for i, f := range files {
		if err := l.graph.walk(ctx, f, l.contents[i], l.dir, l.env, 0); err != nil {
			return nil, fmt.Errorf("load compose %s: %w", l.rel[i], err)
		}
	}
	l.tracker = newUnsetTracker()
	model, err := l.load(ctx, len(files))
	if err != nil {
		return nil, l.loadError(ctx, err)
	}
	return l.convert(model, l.origins(ctx, model))
}

// composeLoader holds the state of one LoadCompose call.
type composeLoader struct {
	root     string
	repo     *repofs.Root
	opts     ComposeOptions
	files    []string // absolute
	rel      []string // files relative to root
	contents [][]byte // of files, read under the repository's rule
	dir      string   // the project directory, absolute
	env      map[string]string
	graph    *composeGraph // what compose-go may open besides files
	tracker  *unsetTracker
}

// composeFiles returns the absolute compose files to load: the explicit
// ones, or compose's default file and override file found in root. It does
// not use cli.WithDefaultConfigPath, which walks up parent directories. A
// default file that leaves the repository is an error, not a missing file.
func (l *composeLoader) composeFiles(files []string) ([]string, error) {
	if len(files) == 0 {
		for _, names := range [][]string{cli.DefaultFileNames, cli.DefaultOverrideFileNames} {
			for _, name := range names {
				fi, err := l.repo.Stat(name)
				if errors.Is(err, repofs.ErrOutside) {
					return nil, fmt.Errorf("load compose: %w", err)
				}
				if err == nil && fi.Mode().IsRegular() {
					files = append(files, name)
					break
				}
			}
			if len(files) == 0 {
				return nil, nil // no main file: an override alone is not a project
			}
		}
	}
	abs := make([]string, 0, len(files))
	for _, f := range files {
		f = l.abs(f)
		if !l.inside(f) {
			return nil, fmt.Errorf("load compose %s: compose file is outside %s", f, l.root)
		}
		abs = append(abs, f)
	}
	return abs, nil
}

// composeEnv computes the interpolation variables: Env, then the OS
// environment if asked, then the env files (by default .env in the project
// directory dir), earlier sources winning. The env files are read under the
// repository's rule and parsed with compose-go's dotenv, as cli.WithDotEnv
// does; cli's own env-file option is avoided because it consults the OS
// environment. Without UseOSEnv the OS environment is never read.
func composeEnv(repo *repofs.Root, dir string, opts ComposeOptions) (map[string]string, error) {
	env := maps.Clone(opts.Env)
	if env == nil {
		env = map[string]string{}
	}
	if opts.UseOSEnv {
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			if _, set := env[k]; !set && k != "" {
				env[k] = v
			}
		}
	}
	var files []string
	if opts.EnvFiles == nil {
		dot := filepath.Join(dir, ".env")
		fi, err := repo.Stat(dot)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read env files: %w", err) // a .env linked out of the repository, say
		}
		if err == nil && !fi.IsDir() {
			files = []string{dot}
		}
	}
	files = append(files, opts.EnvFiles...)
	fromFiles, err := readEnvFiles(repo, files, env)
	if err != nil {
		return nil, fmt.Errorf("read env files: %w", err)
	}
	for k, v := range fromFiles {
		if _, set := env[k]; !set {
			env[k] = v
		}
	}
	return env, nil
}

// load loads the first n compose files into a model. The project directory
// is the directory of the first file, as for `docker compose -f`, never the
// process working directory. The model is loaded leniently (see
// lenientLoad): only the fields that decide images can fail. Environment
// and label files are never read: they decide no image, and they are often
// missing outside a developer machine.
func (l *composeLoader) load(ctx context.Context, n int) (*composeModel, error) {
	dict, err := l.loadModel(ctx, n, false)
	if errors.Is(err, errComposePanic) {
		// compose-go trusts its schema to have refused a malformed model
		// (a list where it wants a mapping); its validation names the place.
		if _, verr := l.loadModel(ctx, n, true); verr != nil {
			return nil, verr
		}
	}
	if err != nil {
		return nil, err
	}
	return readModel(dict)
}

// errComposePanic marks a panic of compose-go turned into an error.
var errComposePanic = errors.New("compose-go panicked")

// loadModel runs compose-go's model loader on the first n files, with its
// schema validation when validate is set.
func (l *composeLoader) loadModel(ctx context.Context, n int, validate bool) (dict map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			dict, err = nil, fmt.Errorf("%w: %v", errComposePanic, r)
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	configFiles := make([]types.ConfigFile, n)
	for i := range n {
		configFiles[i] = types.ConfigFile{Filename: l.files[i], Content: l.contents[i]}
	}
	return loader.LoadModelWithContext(ctx, types.ConfigDetails{
		WorkingDir:  l.dir,
		ConfigFiles: configFiles,
		Environment: maps.Clone(l.env), // a fresh map: compose-go writes into it
	}, l.projectName, lenientLoad(l.tracker), func(o *loader.Options) {
		o.SkipValidation = !validate
		// First: it answers for every path, so compose-go's own local
		// loader, which would read anything, is never asked.
		o.ResourceLoaders = append([]loader.ResourceLoader{l.graph.loader()}, o.ResourceLoaders...)
	})
}

// projectName is the loader option that names the project as docker
// compose does, with ComposeOptions.Name standing for the folder:
// COMPOSE_PROJECT_NAME if set, else the top-level `name:` of the files
// (which compose-go reads itself), else Name, else DefaultProjectName.
// compose-go's cli package applies the same precedence, but its model
// loader drops the environment.
func (l *composeLoader) projectName(o *loader.Options) {
	if name := l.env[consts.ComposeProjectName]; name != "" {
		o.SetProjectName(name, true)
		return
	}
	name := l.opts.Name
	if name == "" {
		name = DefaultProjectName(l.rel[0])
	}
	o.SetProjectName(name, false)
}

// loadError names the compose file a load error comes from: compose-go
// names the file for parse and schema errors but not for others, so the
// first failing prefix Files[:k] decides. A file that holds "{{" gets a
// hint that it is a template, and each problem of a joined error gets the
// file on its own line.
func (l *composeLoader) loadError(ctx context.Context, err error) error {
	k := len(l.files)
	for i := 1; i < len(l.files); i++ {
		if _, perr := l.load(ctx, i); perr != nil {
			k = i
			break
		}
	}
	prefix := "load compose " + l.rel[k-1]
	if line := templateLine(l.contents[k-1]); line > 0 {
		return fmt.Errorf("%s: %w (line %d holds a {{ placeholder: the file looks like a template, not a compose file; "+
			"render it first, and list the rendered file in discover.compose)", prefix, err, line)
	}
	var errs []error
	for _, e := range flatten(err) {
		errs = append(errs, fmt.Errorf("%s: %w", prefix, excerpt.Error(e)))
	}
	return errors.Join(errs...)
}

// templateLine returns the first line of content that holds "{{", or 0.
func templateLine(content []byte) int {
	for i, line := range strings.Split(string(content), "\n") {
		if strings.Contains(line, "{{") {
			return i + 1
		}
	}
	return 0
}

// composeOrigins maps a service name to the Root-relative compose file
// that last changed its image or its build section, and to the first that
// declares it.
type composeOrigins struct{ image, build, declared map[string]string }

// origins attributes each service's image and build to the top-level file
// that last changed them: the file k such that loading Files[:k] already
// gives the final value while Files[:k-1] does not. compose-go records no
// per-field origin, so this is the finest attribution it allows.
func (l *composeLoader) origins(ctx context.Context, final *composeModel) composeOrigins {
	prefixes := make([]*composeModel, len(l.files))
	prefixes[len(l.files)-1] = final
	for k := 1; k < len(l.files); k++ {
		if p, err := l.load(ctx, k); err == nil {
			prefixes[k-1] = p // a prefix that fails to load tells nothing
		}
	}
	org := composeOrigins{image: map[string]string{}, build: map[string]string{}, declared: map[string]string{}}
	for name := range final.services {
		org.image[name] = l.rel[lastChange(prefixes, name, func(s modelService) any { return s.image })]
		org.build[name] = l.rel[lastChange(prefixes, name, func(s modelService) any { return s.build })]
		org.declared[name] = l.rel[firstDeclared(prefixes, name)]
	}
	return org
}

// firstDeclared returns the index of the first of prefixes that holds the
// service (the last one when a prefix before it failed to load).
func firstDeclared(prefixes []*composeModel, service string) int {
	for k, p := range prefixes {
		if p == nil {
			return len(prefixes) - 1
		}
		if _, ok := p.services[service]; ok {
			return k
		}
	}
	return len(prefixes) - 1
}

// lastChange returns the index of the first of prefixes (loads of
// Files[:1], Files[:2], ...) from which the service's field keeps the value
// it has in the last one.
func lastChange(prefixes []*composeModel, service string, field func(modelService) any) int {
	k := len(prefixes) - 1
	final := field(prefixes[k].services[service])
	for ; k > 0 && prefixes[k-1] != nil; k-- {
		prev, ok := prefixes[k-1].services[service]
		if !ok || !reflect.DeepEqual(field(prev), final) {
			break
		}
	}
	return k
}

// convert turns the loaded model into a ComposeProject, failing on every
// service whose image or build cannot be trusted; the project returned
// with the error holds the other services.
func (l *composeLoader) convert(p *composeModel, org composeOrigins) (*ComposeProject, error) {
	out := &ComposeProject{Name: p.name, Files: l.rel, Qualifier: l.opts.Qualifier}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(p.services)) {
		s := p.services[name]
		if !active(s.profiles, l.opts.Profiles) {
			continue
		}
		if s.image == "" && s.build == nil && !s.provider {
			errs = append(errs, fmt.Errorf("load compose %s: service %q has neither an image nor a build context specified: "+
				"docker compose refuses the project (a file meant to be layered over another is listed alone?)", org.declared[name], name))
			continue
		}
		svc := ComposeService{Name: name, Image: s.image}
		var err error
		if s.image != "" {
			svc.ImageLocator = l.locator(org.image[name]) + "#services." + name + ".image"
			err = l.tracker.check(org.image[name], name, "image", s.image)
		}
		if s.build != nil {
			b, berr := l.build(name, s.build, org.build[name])
			svc.Build, err = b, errors.Join(err, berr)
		}
		if err != nil {
			errs = append(errs, err)
			continue // what it holds cannot be trusted
		}
		out.Services = append(out.Services, svc)
	}
	return out, errors.Join(errs...)
}

// build converts a service's build section. compose-go has made local
// contexts absolute and left remote ones as written.
func (l *composeLoader) build(service string, b *types.BuildConfig, file string) (*ComposeBuild, error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("load compose %s: service %q: %s", file, service, fmt.Sprintf(format, a...))
	}
	var errs []error
	for _, f := range buildFields(b) {
		errs = append(errs, l.tracker.check(file, service, "build."+f.name, f.values...))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(b.Context) {
		return nil, fail("build context %s is remote, not a local directory: it cannot be scanned", excerpt.Quote(b.Context))
	}
	if !l.inside(b.Context) {
		return nil, fail("build context %s is outside the root %s", excerpt.Quote(l.relative(b.Context)), l.root)
	}
	out := &ComposeBuild{
		Context:   l.relative(b.Context),
		Inline:    b.DockerfileInline,
		Target:    b.Target,
		Platforms: slices.Clone(b.Platforms),
		Locator:   l.locator(file) + "#services." + service + ".build",
	}
	if out.Inline == "" {
		df := b.Dockerfile
		if !filepath.IsAbs(df) {
			df = filepath.Join(b.Context, df) // compose: relative to the context
		}
		if !l.inside(df) {
			return nil, fail("dockerfile %s is outside the root %s", excerpt.Quote(l.relative(df)), l.root)
		}
		out.Dockerfile = l.relative(df)
	}
	for k, v := range b.Args {
		if v != nil { // an arg without value stays nil when its variable is unset
			out.Args = setKey(out.Args, k, *v)
		}
	}
	for k, v := range b.AdditionalContexts {
		if filepath.IsAbs(v) {
			v = l.relative(v)
		}
		out.AdditionalContexts = setKey(out.AdditionalContexts, k, v)
	}
	return out, nil
}

// setKey sets m[k] = v, allocating m if needed, so that empty maps stay nil.
func setKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// buildField is a named group of values of a build section.
type buildField struct {
	name   string
	values []string
}

// buildFields lists, in a fixed order, the build values that decide images.
func buildFields(b *types.BuildConfig) []buildField {
	var args, contexts []string
	for _, k := range slices.Sorted(maps.Keys(b.Args)) {
		args = append(args, k)
		if v := b.Args[k]; v != nil {
			args = append(args, *v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b.AdditionalContexts)) {
		contexts = append(contexts, k, b.AdditionalContexts[k])
	}
	return []buildField{
		{"context", []string{b.Context}},
		{"dockerfile", []string{b.Dockerfile}},
		{"dockerfile_inline", []string{b.DockerfileInline}},
		{"target", []string{b.Target}},
		{"args", args},
		{"additional_contexts", contexts},
		{"platforms", b.Platforms},
	}
}

// locator is the start of the locators of a compose file: the file,
// after "compose:LABEL:" when the project is one of several.
func (l *composeLoader) locator(file string) string {
	if l.opts.Qualifier == "" {
		return file
	}
	return "compose:" + l.opts.Qualifier + ":" + file
}

// abs makes a Root-relative or absolute path absolute and clean.
func (l *composeLoader) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(l.root, filepath.FromSlash(p))
}

// inside reports whether the absolute path p is Root or below it.
func (l *composeLoader) inside(p string) bool {
	rel, err := filepath.Rel(l.root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// relative returns the absolute path p relative to Root, slash-separated.
func (l *composeLoader) relative(p string) string {
	rel, err := filepath.Rel(l.root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(rel)
}

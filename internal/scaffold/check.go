package scaffold

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/discover"
	"github.com/imagesync/imagesync/internal/dockerfile"
	"github.com/imagesync/imagesync/internal/helmrender"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/kustomize"
	"github.com/imagesync/imagesync/internal/repofs"
)

// Each source init proposes is loaded first with the library discovery
// uses for it (compose-go through discover.LoadCompose, Helm's SDK through
// helmrender, kustomize's API): one that fails is proposed commented out,
// with the error as the reason, so that the file init writes works as
// written. What only a whole discovery run can tell (an invalid image
// reference in a rendered object, a placeholder) Init reports after it.

// loadProjects loads each compose project as discovery will, and returns
// the loaded projects (nil for one that failed, whose LeftOut is set). A
// build whose Dockerfile cannot be read or scanned (a stale layer naming a
// file that is gone) leaves out the layer that declares it, and the
// project is loaded again without it; when the project's first file
// declares it, the whole project is left out.
func loadProjects(ctx context.Context, rd reader, projects []ComposeProject, files map[string]ComposeFile) ([]*discover.ComposeProject, []LeftOut) {
	loaded := make([]*discover.ComposeProject, len(projects))
	var left []LeftOut
	built := builtBy{}
	for i := range projects {
		p := &projects[i]
		for p.LeftOut == "" {
			cp, err := discover.LoadCompose(ctx, discover.ComposeOptions{Root: rd.root, Files: p.Files, EnvFiles: p.EnvFiles, Name: p.Name})
			if err != nil {
				p.LeftOut = "it fails to load: " + libraryMessage(rd.root, err)
				break
			}
			service, problem := brokenBuild(rd, cp)
			if problem == "" {
				problem = built.conflict(p.Name, cp)
			}
			if problem == "" {
				built.add(p.Name, cp)
				loaded[i] = cp
				break
			}
			if service == "" {
				p.LeftOut = "it " + problem
				break
			}
			file := lastBuilding(p.Files, files, service)
			if file == "" || file == p.Files[0] || file == p.own {
				p.LeftOut = fmt.Sprintf("its build of %s %s", service, problem)
				break
			}
			p.drop(file)
			// A layer two projects share (the base and a variant) is said once.
			out := LeftOut{Path: file, Reason: fmt.Sprintf("layered on %s, its build of %s %s", p.Files[0], service, problem)}
			if !slices.Contains(left, out) {
				left = append(left, out)
			}
		}
	}
	return loaded, left
}

// builtBy maps an image a compose service names and builds to the
// project that builds it and how: discovery refuses one image built from
// two definitions (a Windows variant building the Linux stack's tags with
// other arguments), so the later project is left out.
type builtBy map[imageref.Ref]struct{ project, definition string }

func (m builtBy) add(project string, p *discover.ComposeProject) {
	for _, svc := range p.Services {
		if ref, def, ok := namedBuild(svc); ok {
			if _, seen := m[ref]; !seen {
				m[ref] = struct{ project, definition string }{project, def}
			}
		}
	}
}

// conflict says how the project builds an image another project builds
// from another definition, "" when it does not.
func (m builtBy) conflict(project string, p *discover.ComposeProject) string {
	for _, svc := range p.Services {
		ref, def, ok := namedBuild(svc)
		if prev, seen := m[ref]; ok && seen && prev.definition != def {
			return fmt.Sprintf("builds %s (service %s) from another definition than project %s does: discovery refuses one image built two ways",
				ref, svc.Name, prev.project)
		}
	}
	return ""
}

// namedBuild is the image a service builds under the name it gives, and
// what decides the build; ok is false for a service that builds nothing
// or names no image (its image is named after its project).
func namedBuild(svc discover.ComposeService) (imageref.Ref, string, bool) {
	b := svc.Build
	if b == nil || svc.Image == "" {
		return imageref.Ref{}, "", false
	}
	ref, err := imageref.Parse(svc.Image)
	if err != nil {
		return imageref.Ref{}, "", false
	}
	args := make([]string, 0, len(b.Args))
	for _, k := range slices.Sorted(maps.Keys(b.Args)) {
		args = append(args, k+"="+b.Args[k])
	}
	contexts := make([]string, 0, len(b.AdditionalContexts))
	for _, k := range slices.Sorted(maps.Keys(b.AdditionalContexts)) {
		contexts = append(contexts, k+"="+b.AdditionalContexts[k])
	}
	return ref, fmt.Sprintf("%s|%s|%s|%s|%v|%v|%v", b.Context, b.Dockerfile, b.Inline, b.Target, args, contexts, b.Platforms), true
}

// brokenBuild finds a build of the project whose Dockerfile cannot be
// read, or fails to scan for another reason than a build argument init
// proposes (build_args).
func brokenBuild(rd reader, p *discover.ComposeProject) (service, problem string) {
	for _, svc := range p.Services {
		b := svc.Build
		if b == nil || b.Dockerfile == "" {
			continue
		}
		data, err := rd.read(b.Dockerfile)
		if err != nil {
			return svc.Name, "names " + b.Dockerfile + ", which cannot be read (" + about(b.Dockerfile, err) + ")"
		}
		_, err = dockerfile.Scan(data, dockerfile.Options{Path: b.Dockerfile, BuildArgs: b.Args, Target: b.Target})
		if err != nil && !errors.Is(err, dockerfile.ErrUnsetArg) {
			return svc.Name, "fails: " + libraryMessage(rd.root, err)
		}
	}
	return "", ""
}

// lastBuilding is the last of files that declares service's build: the
// one whose build discovery uses.
func lastBuilding(files []string, byPath map[string]ComposeFile, service string) string {
	last := ""
	for _, f := range files {
		if byPath[f].Services[service].Build != "" {
			last = f
		}
	}
	return last
}

// checkKube renders every release, one after the other through one
// Worker (a child process when the sandbox says so: a chart's templates
// are the repository's programs), and builds every overlay proposed, at
// most one per CPU at a time, and sets LeftOut on those that fail.
func checkKube(ctx context.Context, root string, sb helmrender.Sandbox, releases []HelmRelease, overlays []KustomizeDir, scripts []scriptValues) {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	g.Go(func() error {
		w := helmrender.NewWorker(sb)
		defer w.Close()
		for i := range releases {
			checkRelease(ctx, w, root, &releases[i], scripts)
		}
		return nil
	})
	for i := range overlays {
		k := &overlays[i]
		if k.LeftOut != "" {
			continue
		}
		g.Go(func() error {
			repo, err := repofs.Open(root)
			if err == nil {
				_, err = kustomize.Build(repo, k.Dir)
				repo.Close()
			}
			if err != nil {
				k.LeftOut = "it fails to build: " + libraryMessage(root, err)
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines return no error: each failure is a LeftOut
}

// checkRelease renders h as discovery will and sets its LeftOut when it
// fails; a release its deploy script passes values to is tried with them.
func checkRelease(ctx context.Context, w *helmrender.Worker, root string, h *HelmRelease, scripts []scriptValues) {
	if h.LeftOut != "" || ctx.Err() != nil {
		return
	}
	err := render(ctx, w, root, h.Name, h.Chart, h.Values)
	if sv := valuesFor(h.Chart, scripts); err != nil && sv != nil {
		// Its templates may need the values its deploy script
		// passes: rendered with them, it is proposed with them.
		values := slices.Concat(sv.files, h.Values)
		if render(ctx, w, root, h.Name, h.Chart, values) == nil {
			h.Values, h.ValuesFrom, err = values, sv.script, nil
		}
	}
	if err != nil && ctx.Err() == nil {
		h.LeftOut = "it fails to render: " + libraryMessage(root, err)
	}
}

// render renders a chart as discovery will, with values files relative
// to the root.
func render(ctx context.Context, w *helmrender.Worker, root, name, chart string, values []string) error {
	r := helmrender.Release{Name: name, Chart: filepath.Join(root, filepath.FromSlash(chart))}
	for _, v := range values {
		r.ValuesFiles = append(r.ValuesFiles, filepath.Join(root, filepath.FromSlash(v)))
	}
	_, err := w.Render(ctx, r)
	return err
}

// maxReason bounds a library's message quoted as a reason: the first
// line, this long at most.
const maxReason = 240

// libraryMessage is an error of a loader as init quotes it in a comment:
// its first line, paths relative to the repository (the same in every
// clone), at most maxReason bytes.
func libraryMessage(root string, err error) string {
	msg := firstLine(err.Error())
	msg = strings.ReplaceAll(msg, root+string(filepath.Separator), "")
	msg = strings.ReplaceAll(msg, root, ".")
	if len(msg) > maxReason {
		cut := maxReason
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "..."
	}
	return msg
}

package discover

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/liblog"
	"github.com/imagesync/imagesync/internal/repofs"
)

// ProjectOptions are the options of every compose project images.hcl's
// discover block declares, in the order written: one per compose_project
// block, each qualified by its label when there are several, or the one
// project of discover.compose (compose's default files when unset).
func ProjectOptions(cfg *config.Config) []ComposeOptions {
	ds := cfg.Discover
	if len(ds.ComposeProjects) == 0 {
		return []ComposeOptions{{
			Root:     cfg.Dir,
			Files:    ds.Compose,
			EnvFiles: rootEnvFiles(cfg),
			Env:      ds.Env,
			UseOSEnv: ds.UseOSEnv,
		}}
	}
	out := make([]ComposeOptions, 0, len(ds.ComposeProjects))
	for _, p := range ds.ComposeProjects {
		opts := ComposeOptions{
			Root:             cfg.Dir,
			Files:            p.Files,
			EnvFiles:         p.EnvFiles,
			Env:              ds.Env,
			UseOSEnv:         ds.UseOSEnv,
			Name:             p.Name,
			ProjectDirectory: p.ProjectDirectory,
		}
		if !p.AllProfiles() {
			opts.Profiles = p.Profiles
		}
		if len(ds.ComposeProjects) > 1 {
			opts.Qualifier = p.Name
		}
		out = append(out, opts)
	}
	return out
}

// rootEnvFiles are the env files of discover.compose's project: as
// written, else .env next to images.hcl when present (not in the folder of
// the first compose file, as a compose_project block has it: locks written
// before blocks existed read that .env).
func rootEnvFiles(cfg *config.Config) []string {
	if cfg.Discover.EnvFiles != nil {
		return cfg.Discover.EnvFiles
	}
	// Lstat: a .env of any kind (a link out, a FIFO) is named, so that
	// reading it through repofs says what is wrong with it.
	if fi, err := os.Lstat(filepath.Join(cfg.Dir, ".env")); err == nil && !fi.IsDir() {
		return []string{".env"}
	}
	return []string{}
}

// LoadProjects loads the compose projects images.hcl's discover block
// declares (see ProjectOptions), as Run does; a repository without compose
// file has none. Rendering for deployments needs the projects' services
// themselves, not only the images found in them. An error about one project
// (or some of its services) comes with the others. What compose-go prints
// comes back as warnings.
func LoadProjects(ctx context.Context, cfg *config.Config) ([]*ComposeProject, []string, error) {
	repo, err := repofs.Open(cfg.Dir)
	if err != nil {
		return nil, nil, err
	}
	defer repo.Close()
	c := newCollector(cfg, repo)
	capture := liblog.Start()
	projects := c.loadProjects(ctx, capture)
	c.libraryWarnings(capture.Stop())
	return projects, c.warnings, c.errs.err()
}

// loadProject loads one compose project; a problem is said to be in it
// when it is one of several.
func loadProject(ctx context.Context, opts ComposeOptions) (*ComposeProject, error) {
	p, err := LoadCompose(ctx, opts)
	var errs Errors
	for _, e := range flatten(err) {
		if opts.Qualifier != "" {
			e = fmt.Errorf("compose project %s: %w", opts.Qualifier, e)
		}
		errs = append(errs, e)
	}
	return p, errs.err()
}

package discover

import (
	"context"

	"github.com/imagesync/imagesync/internal/config"
)

// LoadProject loads the compose project images.hcl's discover block names
// (its files, env files and variables), as Run does; nil when the
// repository has no compose file. Rendering for deployments needs the
// project's services themselves, not only the images found in them.
func LoadProject(ctx context.Context, cfg *config.Config) (*ComposeProject, error) {
	return LoadCompose(ctx, ComposeOptions{
		Root:     cfg.Dir,
		Files:    cfg.Discover.Compose,
		EnvFiles: cfg.Discover.EnvFiles,
		Env:      cfg.Discover.Env,
		UseOSEnv: cfg.Discover.UseOSEnv,
	})
}

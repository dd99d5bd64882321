package preflight

import (
	"fmt"
	"strings"

	"github.com/imagesync/imagesync/internal/registry"
)

// CreateHint says what creates a target repository that a registry does
// not create on push, for the registries known to refuse such pushes;
// host is the registry host and path the repository path on it.
func CreateHint(host, path string) string {
	first, _, _ := strings.Cut(path, "/")
	switch {
	case strings.Contains(host, ".dkr.ecr.") && strings.HasSuffix(host, ".amazonaws.com"):
		// ECR: every repository, by its full path; or a repository
		// creation template with CREATE_ON_PUSH for the prefix.
		region := strings.Split(host, ".")[3]
		return fmt.Sprintf("create it: aws ecr create-repository --region %s --repository-name %s (or a repository creation template that applies on push)", region, path)
	case strings.HasSuffix(host, "-docker.pkg.dev"):
		// Artifact Registry: <project>/<repository>/<image...>.
		parts := strings.SplitN(path, "/", 3)
		if len(parts) >= 2 {
			location := strings.TrimSuffix(host, "-docker.pkg.dev")
			return fmt.Sprintf("create the repository: gcloud artifacts repositories create %s --repository-format=docker --location=%s --project=%s", parts[1], location, parts[0])
		}
	case strings.HasSuffix(host, ".aliyuncs.com"):
		return fmt.Sprintf("create the namespace %q in the Container Registry console (or turn on its automatic repository creation)", first)
	}
	return fmt.Sprintf("create it in the registry first (on Harbor, the project %q; elsewhere in the registry's console or API)", first)
}

// permissionHint says how to get the permission a registry refused.
func permissionHint(e *registry.AuthError) string {
	if e.Anonymous {
		return fmt.Sprintf("log in to %s before apply (docker login %s, or docker/login-action in a workflow)", e.Host, e.Host)
	}
	return fmt.Sprintf("grant push to the account whose credentials for %s imagesync uses, or use one that has it", e.Host)
}

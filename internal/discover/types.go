// Package discover finds every image a repository needs: the images its
// compose files run, the images its Dockerfiles are built from, the images
// its Helm charts, kustomizations and Kubernetes manifests run, and the
// images the repository builds itself. It reads files only (charts are
// rendered offline by internal/helmrender, kustomizations built by
// internal/kustomize, objects read by internal/kube); resolving references
// to digests is the registry package's job.
package discover

import (
	"github.com/imagesync/imagesync/internal/dockerfile"
	"github.com/imagesync/imagesync/internal/imageref"
)

// Found is one image reference seen at one place in one file.
type Found struct {
	Ref imageref.Ref
	// Locator names the place without line numbers so that it does not
	// churn when unrelated lines move, e.g. "src/web/Dockerfile#FROM builder",
	// "src/web/Dockerfile#COPY --from", "src/web/Dockerfile#syntax",
	// "docker-compose.yml#services.postgres.image",
	// "helm:app#Deployment/api.containers[api]",
	// "helm:app#Job/migrate.initContainers[wait] (hook pre-install)",
	// "kustomize:deploy/prod#CronJob/cleanup.containers[run]",
	// "deploy/api.yaml#Prometheus/main.spec.image".
	Locator string
}

// Image is an image the repository needs but does not build: it is mirrored.
type Image struct {
	Ref     imageref.Ref
	Sources []string // sorted, deduplicated locators
}

// Build is an image the repository builds itself from a Dockerfile.
type Build struct {
	Ref imageref.Ref // the image the build produces
	// Services are the compose services that build it, sorted: several
	// when they share one build definition, as docker compose allows.
	Services []string
	// Context is the build context directory, slash-separated and relative
	// to the root (the directory of images.hcl).
	Context string
	// Dockerfile is the Dockerfile path relative to the root, or a locator
	// ending in "build.dockerfile_inline" when Inline is set.
	Dockerfile string
	Inline     []byte // dockerfile_inline content, if any
	// TargetStage is build.target, if set.
	TargetStage string
	// Args are the effective build arguments: discover.build_args overlaid
	// by the service's build.args.
	Args map[string]string
	// Platforms are the service's build.platforms, sorted.
	Platforms []string
	// Bases are the images the build is built from (FROM, COPY --from,
	// RUN --mount=from, # syntax=, additional contexts), sorted and
	// deduplicated. A base may itself be another Build of the repository.
	Bases []imageref.Ref
	// Sources are where the build is declared ("docker-compose.yml#services.backend.build")
	// and where its image is run by another compose service or a
	// Kubernetes object.
	Sources []string
	// LocalContexts are the additional build contexts that are directories
	// (relative to the root) or URLs, by name.
	LocalContexts map[string]string
	// Scan is what dockerfile.Scan found in the Dockerfile, in file order:
	// the places a hermetic build must point at the locked bases.
	Scan []dockerfile.Found
}

// Result is everything discovered in a repository.
type Result struct {
	Images []Image // sorted by reference
	Builds []Build // sorted by reference
	// Warnings are what discovery left out that may be a mistake: an
	// "image" field of a custom resource that is no image reference.
	Warnings []string
}

// Name is the name builds are shown under: the first of Services.
func (b *Build) Name() string {
	if len(b.Services) == 0 {
		return ""
	}
	return b.Services[0]
}

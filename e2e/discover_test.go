package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDiscoverRealRepository runs the binary on the example changed the way
// real repositories are (issue 9): a volume from a variable the build
// script sets, two services building one image from one definition, a
// template Dockerfile and a fragment without FROM next to the real ones.
func TestDiscoverRealRepository(t *testing.T) {
	s := startStack(t)
	dir := s.example(t)
	compose := filepath.Join(dir, "docker-compose.yml")
	replaceInFile(t, compose, `  saltstack:
    <<: *restart
    image: ai-infra-saltstack:${IMAGE_TAG}
    build:
      <<: *build-defaults
      context: src/saltstack`, `  saltstack:
    <<: *restart
    image: ai-infra-saltstack:${IMAGE_TAG}
    build:
      <<: *build-defaults
      context: src/saltstack
    volumes:
      - ${CGROUP_MOUNT}

  salt-master-2:
    image: ai-infra-saltstack:${IMAGE_TAG}
    build:
      <<: *build-defaults
      context: src/saltstack
    volumes:
      - ${CGROUP_MOUNT}`)
	writeFile(t, filepath.Join(dir, "src/tools/Dockerfile.tpl"), "FROM {{BASE_IMAGE}}\nCOPY check.sh /\n")
	writeFile(t, filepath.Join(dir, "src/tools/Dockerfile.fragment"), "RUN apk add --no-cache curl\n")

	r := imagesync(t, dir, "images", "--discovered")
	if r.code != 1 || !strings.Contains(r.stderr, "discovery found 2 problems:") ||
		!strings.Contains(r.stderr, "src/tools/Dockerfile.fragment: no FROM instruction") ||
		!strings.Contains(r.stderr, "src/tools/Dockerfile.tpl:1: FROM {{BASE_IMAGE}}") ||
		!strings.Contains(r.stderr, "it looks like a template placeholder: render the file first, or exclude it with discover.exclude") {
		t.Fatalf("both problems at once: %v", r)
	}

	replaceInFile(t, filepath.Join(dir, "images.hcl"), `dockerfiles = ["src/**/Dockerfile*"]`,
		`dockerfiles = ["src/**/Dockerfile*"]
  exclude     = ["src/tools/Dockerfile.tpl", "src/tools/Dockerfile.fragment"]`)
	if r := imagesync(t, dir, "lock"); r.code != 0 || !strings.Contains(r.stdout, "15 images, 5 builds") {
		t.Fatalf("lock: %v", r)
	}
	locked := readFile(t, filepath.Join(dir, "images.lock"))
	if !strings.Contains(locked, "build \"docker.io/library/ai-infra-saltstack:v0.3.5\" {\n  services = [\n    \"salt-master-2\",\n    \"saltstack\",\n  ]\n") ||
		!strings.Contains(locked, "  service    = \"backend\"\n") {
		t.Errorf("images.lock:\n%s", locked)
	}
	if r := imagesync(t, dir, "lock", "--check"); r.code != 0 {
		t.Errorf("lock --check: %v", r)
	}
	if r := imagesync(t, dir, "plan"); r.code != 0 || !strings.Contains(r.stdout, "build services salt-master-2, saltstack, inputs") {
		t.Errorf("plan: %v", r)
	}
}

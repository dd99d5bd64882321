# imagesync config of the ai-infra-matrix example. The registries below are
# the demo's local stand-ins (see README): 127.0.0.1:5100 is the team's
# registry, 127.0.0.1:5101 and :5102 stand in for docker.io and quay.io.
target {
  registry = "127.0.0.1:5100/ai-infra-matrix"
}

discover {
  compose     = ["docker-compose.yml"]
  env_files   = [".env"]
  dockerfiles = ["src/**/Dockerfile*"]
}

# The repository's 5 services are built with buildah, which runs here
# without a Docker engine (as root: --isolation chroot --storage-driver vfs).
builder {
  kind = "buildah"
}

registry "docker.io" {
  mirrors = ["http://127.0.0.1:5101"]
}

registry "quay.io" {
  mirrors = ["http://127.0.0.1:5102"]
}

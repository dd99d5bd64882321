# imagesync config of this repository: the ai-infra-matrix example stack.
# images.lock next to it was produced by the demo (see README) against the
# demo's stand-in upstream registries, whose generated images have the same
# digests on every machine: 127.0.0.1:5101 stands in for docker.io,
# 127.0.0.1:5102 for quay.io, and 127.0.0.1:5100 is the team's registry.
# CI checks that images.lock is up to date with `imagesync lock --check`.
target {
  registry = "127.0.0.1:5100/ai-infra-matrix"
}

discover {
  compose     = ["examples/ai-infra-matrix/docker-compose.yml"]
  env_files   = ["examples/ai-infra-matrix/.env"]
  dockerfiles = ["examples/ai-infra-matrix/src/**/Dockerfile*"]
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

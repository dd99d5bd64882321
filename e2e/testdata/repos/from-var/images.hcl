# A Dockerfile whose FROM is a variable with no default: images.hcl gives
# its value in build_args. The compose service builds without image:.
target {
  registry = "TARGET/api"
}
discover {
  compose_project "api" {
    files = ["docker-compose.yml"]
  }
  build_args = {
    FROM = "python:3.12-slim" # the value CI passes (--build-arg FROM=...)
  }
}
builder {
  kind = "buildah"
}
registry "docker.io" {
  mirrors = ["HUB"]
}
registry "quay.io" {
  mirrors = ["QUAY"]
}

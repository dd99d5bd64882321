# Layered compose files (the base and an observability layer, one project)
# and a test stack in a subfolder, with contexts relative to its own folder,
# as a second, independent project.
target {
  registry = "TARGET/voting"
}
discover {
  compose_project "voting" {
    files = ["compose.yaml", "compose.observability.yaml"]
  }
  compose_project "result-test" {
    files = ["result/tests/docker-compose.test.yml"]
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

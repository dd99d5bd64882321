# Kustomize overlays over a shared base, plus a directory of plain
# manifests, found with the obvious first glob: "**/*.yaml" also matches the
# base (built through the overlays), the kustomizations, a CI workflow and
# the compose file, which are skipped in one line.
target {
  registry = "TARGET/shop"
}
discover {
  kustomize  = ["deploy/overlays/dev", "deploy/overlays/prod"]
  kubernetes = ["**/*.yaml"]
}
registry "docker.io" {
  mirrors = ["HUB"]
}
registry "quay.io" {
  mirrors = ["QUAY"]
}

# Manifests that name the images skaffold builds by placeholders
# ("image: adservice"), replaced at deploy time: each is the build
# skaffold.yaml describes, not docker.io/library/adservice:latest.
target {
  registry = "TARGET/boutique"
}
discover {
  kubernetes = ["kubernetes-manifests/*.yaml"]
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

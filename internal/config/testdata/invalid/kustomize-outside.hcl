# want: 4:15 Path outside the repository
target { registry = "r.example.com" }
discover {
  kustomize = ["deploy/../../overlays/prod"]
}

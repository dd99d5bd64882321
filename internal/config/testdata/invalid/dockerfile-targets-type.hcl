# want: 5:23 Unsuitable value type
target { registry = "r.example.com" }
discover {
  dockerfile_targets = {
    "ci/Dockerfile" = ["test"]
  }
}

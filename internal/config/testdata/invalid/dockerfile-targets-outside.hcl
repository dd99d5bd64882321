# want: 5:5 Path outside the repository
target { registry = "r.example.com" }
discover {
  dockerfile_targets = {
    "../other/Dockerfile" = "test"
  }
}

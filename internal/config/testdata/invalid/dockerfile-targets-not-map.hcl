# want: 4:24 Invalid expression
target { registry = "r.example.com" }
discover {
  dockerfile_targets = ["ci/Dockerfile"]
}

# want: 6:5 Duplicate Dockerfile target
target { registry = "r.example.com" }
discover {
  dockerfile_targets = {
    "ci/Dockerfile"   = "test"
    "./ci/Dockerfile" = "lint"
  }
}

# want: 5:25 Invalid Dockerfile target
target { registry = "r.example.com" }
discover {
  dockerfile_targets = {
    "ci/Dockerfile"   = ""
  }
}

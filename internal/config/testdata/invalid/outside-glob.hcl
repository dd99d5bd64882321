# want: 4:17 Path outside the repository
target { registry = "r.example.com" }
discover {
  dockerfiles = ["../other/**/Dockerfile"]
}

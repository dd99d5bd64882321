# want: 4:19 Missing name for compose_project
target { registry = "r.example.com" }
discover {
  compose_project {
    files = ["compose.yaml"]
  }
}

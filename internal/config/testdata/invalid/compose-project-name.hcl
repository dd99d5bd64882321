# want: 4:19 Invalid compose project name
target { registry = "r.example.com" }
discover {
  compose_project "My App" {
    files = ["compose.yaml"]
  }
}

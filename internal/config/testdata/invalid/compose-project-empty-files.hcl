# want: 5:13 No compose files
target { registry = "r.example.com" }
discover {
  compose_project "app" {
    files = []
  }
}

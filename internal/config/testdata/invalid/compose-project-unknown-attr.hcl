# want: 6:5 Unsupported argument
target { registry = "r.example.com" }
discover {
  compose_project "app" {
    files = ["compose.yaml"]
    name  = "other"
  }
}

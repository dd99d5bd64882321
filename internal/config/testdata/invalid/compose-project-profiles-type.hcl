# want: 6:17 Unsuitable value type
target { registry = "r.example.com" }
discover {
  compose_project "app" {
    files    = ["compose.yaml"]
    profiles = "debug"
  }
}

# want: 6:16 Invalid profile
target { registry = "r.example.com" }
discover {
  compose_project "app" {
    files    = ["compose.yaml"]
    profiles = ["debug", ""]
  }
}

# want: 7:3 Conflicting compose settings
target { registry = "r.example.com" }
discover {
  compose_project "app" {
    files = ["compose.yaml"]
  }
  env_files = [".env"]
}

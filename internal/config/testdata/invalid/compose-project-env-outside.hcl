# want: 6:17 Path outside the repository
target { registry = "r.example.com" }
discover {
  compose_project "app" {
    files     = ["compose.yaml"]
    env_files = ["/etc/app.env"]
  }
}

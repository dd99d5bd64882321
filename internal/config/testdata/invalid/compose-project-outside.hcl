# want: 6:25 Path outside the repository
target { registry = "r.example.com" }
discover {
  compose_project "app" {
    files             = ["compose.yaml"]
    project_directory = "../elsewhere"
  }
}

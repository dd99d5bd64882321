# want: 4:25 Missing required argument
target { registry = "r.example.com" }
discover {
  compose_project "app" {
    profiles = ["*"]
  }
}

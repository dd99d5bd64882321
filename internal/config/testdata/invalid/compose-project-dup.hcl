# want: 7:19 Duplicate compose_project block
target { registry = "r.example.com" }
discover {
  compose_project "app" {
    files = ["compose.yaml"]
  }
  compose_project "app" {
    files = ["tests/compose.yaml"]
  }
}

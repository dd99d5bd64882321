# want: 4:3 Conflicting compose settings
target { registry = "r.example.com" }
discover {
  compose = ["compose.yaml"]
  compose_project "test" {
    files = ["tests/compose.test.yaml"]
  }
}

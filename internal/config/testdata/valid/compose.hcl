target { registry = "registry.example.com/voting" }
discover {
  env = { TAG = "v1" }
  compose_project "voting" {
    files = ["compose.yaml", "compose.observability.yaml"]
  }
  compose_project "result-test" {
    files             = ["result/tests/docker-compose.test.yml"]
    project_directory = "result"
    env_files         = ["result/tests/test.env"]
    profiles          = ["e2e", "*"]
  }
  compose_project "minimal" {
    files    = ["minimal/compose.yaml"]
    profiles = []
  }
}

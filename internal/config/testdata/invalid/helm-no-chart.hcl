# want: 4:14 Missing required argument
target { registry = "r.example.com" }
discover {
  helm "app" {
    namespace = "prod"
  }
}

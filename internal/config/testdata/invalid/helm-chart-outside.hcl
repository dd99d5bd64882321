# want: 5:13 Path outside the repository
target { registry = "r.example.com" }
discover {
  helm "app" {
    chart = "../charts/app"
  }
}

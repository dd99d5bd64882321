# want: 7:8 Duplicate helm block
target { registry = "r.example.com" }
discover {
  helm "app" {
    chart = "charts/app"
  }
  helm "app" {
    chart = "charts/other"
  }
}

# want: 6:14 Path outside the repository
target { registry = "r.example.com" }
discover {
  helm "app" {
    chart  = "charts/app"
    values = ["/etc/values.yaml"]
  }
}

# want: 6:20 Invalid API version
target { registry = "r.example.com" }
discover {
  helm "app" {
    chart        = "charts/app"
    api_versions = ["monitoring.coreos.com/v1", "a b"]
  }
}

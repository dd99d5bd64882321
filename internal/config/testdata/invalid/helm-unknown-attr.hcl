# want: 6:5 Unsupported argument
target { registry = "r.example.com" }
discover {
  helm "app" {
    chart       = "charts/app"
    value_files = ["values-prod.yaml"]
  }
}

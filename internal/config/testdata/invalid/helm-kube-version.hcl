# want: 6:20 Invalid kube_version
target { registry = "r.example.com" }
discover {
  helm "app" {
    chart        = "charts/app"
    kube_version = "latest"
  }
}

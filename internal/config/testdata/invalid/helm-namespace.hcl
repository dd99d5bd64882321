# want: 6:17 Invalid namespace
target { registry = "r.example.com" }
discover {
  helm "app" {
    chart     = "charts/app"
    namespace = "Prod_NS"
  }
}

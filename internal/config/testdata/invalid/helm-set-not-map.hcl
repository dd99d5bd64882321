# want: 6:11 Invalid expression
target { registry = "r.example.com" }
discover {
  helm "app" {
    chart = "charts/app"
    set = ["image.tag=v2"]
  }
}

# want: 7:7 Invalid set key
target { registry = "r.example.com" }
discover {
  helm "app" {
    chart = "charts/app"
    set = {
      "image.tag=v2" = "v3"
    }
  }
}

# want: 4:8 Missing name for helm
target { registry = "r.example.com" }
discover {
  helm {
    chart = "charts/app"
  }
}

# want: 4:8 Invalid release name
target { registry = "r.example.com" }
discover {
  helm "Bad_Name" {
    chart = "charts/app"
  }
}

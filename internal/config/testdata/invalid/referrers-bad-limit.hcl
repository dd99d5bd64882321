# want: 5:23 Invalid referrers limit
target { registry = "r.example.com" }
image "nginx:1.27" {
  referrers {
    max_per_subject = 0
  }
}

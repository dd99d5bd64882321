# want: 5:3 Duplicate referrers block
target { registry = "r.example.com" }
image "nginx:1.27" {
  referrers {}
  referrers {}
}

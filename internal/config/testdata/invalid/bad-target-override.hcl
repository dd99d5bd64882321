# want: 4:12 Invalid image target
target { registry = "r.example.com" }
image "nginx" {
  target = "Cache/x:1"
}

# want: 4:15 Invalid platform
target { registry = "r.example.com" }
image "nginx:1.27" {
  platforms = ["linux"]
}

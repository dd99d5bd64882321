# want: 3:1 platform_mode without platforms
target { registry = "r.example.com" }
image "nginx:1.27" {
  platform_mode = "filter"
}

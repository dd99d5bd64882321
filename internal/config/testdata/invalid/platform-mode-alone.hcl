# want: 4:19 platform_mode without platforms
target {
  registry      = "r.example.com"
  platform_mode = "sparse"
}

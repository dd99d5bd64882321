# want: 4:19 Invalid platform mode
target {
  registry      = "r.example.com"
  platform_mode = "thin"
  platforms     = ["linux/amd64"]
}

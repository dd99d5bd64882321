# want: 4:11 Invalid variable name
target { registry = "r.example.com" }
render {
  env = { "REDIS-IMAGE" = "redis:7" }
}

# want: 4:25 Invalid image reference
target { registry = "r.example.com" }
render {
  env = { REDIS_IMAGE = "Redis:7" }
}

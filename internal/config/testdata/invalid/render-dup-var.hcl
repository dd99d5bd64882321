# want: 6:5 Duplicate variable
target { registry = "r.example.com" }
render {
  env = {
    REDIS_IMAGE   = "redis:7"
    "REDIS_IMAGE" = "redis:8"
  }
}

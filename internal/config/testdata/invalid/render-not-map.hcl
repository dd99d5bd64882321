# want: 4:9 Invalid expression
target { registry = "r.example.com" }
render {
  env = ["REDIS_IMAGE"]
}

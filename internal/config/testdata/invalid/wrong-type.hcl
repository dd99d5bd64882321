# want: 4:9 Unsuitable value type
target { registry = "r.example.com" }
discover {
  env = ["A=1"]
}

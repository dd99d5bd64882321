# want: 4:16 Invalid glob
target { registry = "r.example.com" }
discover {
  kubernetes = ["deploy/[a"]
}

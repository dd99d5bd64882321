# want: 4:15 Invalid platform
target { registry = "r.example.com" }
builder {
  platforms = ["amd64"]
}

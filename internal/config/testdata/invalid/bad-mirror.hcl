# want: 4:13 Invalid mirror
target { registry = "r.example.com" }
registry "docker.io" {
  mirrors = ["ftp://m.example.com"]
}

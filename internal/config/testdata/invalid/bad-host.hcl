# want: 3:10 Invalid registry host
target { registry = "r.example.com" }
registry "index.docker.io" {}

# want: 4:7 Duplicate image block
target { registry = "r.example.com" }
image "nginx" {}
image "docker.io/library/nginx:latest" {}

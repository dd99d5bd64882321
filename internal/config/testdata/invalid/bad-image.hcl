# want: 3:7 Invalid image reference
target { registry = "r.example.com" }
image "Nginx:1" {}

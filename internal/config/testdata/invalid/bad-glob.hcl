# want: 3:11 Invalid glob
target { registry = "r.example.com" }
exclude = ["docker.io/[abc"]

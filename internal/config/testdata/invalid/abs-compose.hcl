# want: 4:13 Path outside the repository
target { registry = "r.example.com" }
discover {
  compose = ["/etc/compose.yml"]
}

# want: 4:20 Invalid artifact type
target { registry = "r.example.com" }
referrers {
  artifact_types = ["signature"]
}

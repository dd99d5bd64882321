# want: 4:3 Unsupported argument
target { registry = "r.example.com" }
referrers {
  signatures = true
}

# want: 4:13 Unsuitable value type
target { registry = "r.example.com" }
referrers {
  enabled = ["yes"]
}

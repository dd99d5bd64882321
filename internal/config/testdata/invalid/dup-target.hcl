# want: 3:1 Duplicate target block
target { registry = "r.example.com" }
target { registry = "s.example.com" }

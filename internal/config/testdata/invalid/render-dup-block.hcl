# want: 4:1 Duplicate render block
target { registry = "r.example.com" }
render {}
render {}

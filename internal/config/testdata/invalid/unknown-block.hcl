# want: 3:1 Unsupported block type
target { registry = "r.example.com" }
mirror "x" {}

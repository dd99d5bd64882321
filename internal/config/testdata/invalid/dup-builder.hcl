# want: 4:1 Duplicate builder block
target { registry = "r.example.com" }
builder {}
builder {}

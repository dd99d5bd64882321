# want: 4:10 Invalid builder kind
target { registry = "r.example.com" }
builder {
  kind = "kaniko"
}

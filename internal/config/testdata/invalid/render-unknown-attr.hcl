# want: 4:3 Unsupported argument
target { registry = "r.example.com" }
render {
  compose = "compose.mirror.yaml"
}

# want: 4:14 Invalid layout
target {
  registry = "r.example.com"
  layout   = "tree"
}

target {
  registry = "registry.example.com/platform/mirror"
}
discover {
  compose    = ["compose.yaml"]
  kubernetes = ["deploy/*.yaml"]
}
image "docker.io/library/memcached:1.6" {
  target = "cache/memcached:1.6"
}

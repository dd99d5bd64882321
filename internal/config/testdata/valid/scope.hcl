target {
  registry      = "registry.example.com/team"
  platforms     = ["linux/arm64", "linux/amd64"]
  platform_mode = "sparse"
}
referrers {
  artifact_types = ["application/vnd.dev.sigstore.bundle.v0.3+json"]
  max_per_image  = 100
}
image "nginx:1.27" {
  platform_mode = "filter"
  referrers {
    enabled = false
  }
}
image "redis:7" {
  platforms = []
}
image "postgres:16" {
  platforms = ["linux/amd64"]
  referrers {
    artifact_types  = []
    max_per_subject = 8
  }
}

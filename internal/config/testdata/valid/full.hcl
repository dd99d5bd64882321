target {
  registry = "registry.example.com/ai-infra-matrix"
  layout   = "flat"
}
discover {
  compose     = ["docker-compose.yml", "docker-compose.prod.yml"]
  env_files   = [".env"]
  env         = { IMAGE_TAG = "v0.3.5" }
  use_os_env  = false
  dockerfiles = ["src/**/Dockerfile"]
  exclude     = ["archive/**"]
  build_args  = { GO_VERSION = "1.25" }
  dockerfile_targets = {
    "ci/Dockerfile"         = "test"
    "./tools/../Dockerfile" = "runtime"
  }
  helm "ai-infra-matrix" {
    chart        = "helm/ai-infra-matrix"
    values       = ["helm/ai-infra-matrix/values-prod.yaml", "helm/ai-infra-matrix/values-eu.yaml"]
    set          = { "backend.image.tag" = "v0.3.8", "replicas" = 3, "debug" = false, "big" = 12345678901234567890, "list" = ["a,b"] }
    namespace    = "ai-infra"
    kube_version = "1.31.0"
    api_versions = ["monitoring.coreos.com/v1"]
  }
  helm "monitoring" {
    chart = "charts/monitoring-1.2.0.tgz"
  }
  kubernetes = ["deploy/**/*.yaml"]
  kustomize  = ["deploy/overlays/prod"]
}
registry "docker.io" {
  mirrors  = ["https://mirror.example.com", "http://127.0.0.1:5101/dockerhub"]
  insecure = false
}
registry "quay.io" {
  insecure = true
}
image "docker.io/library/memcached:1.6" {
  target = "cache/memcached:1.6"
}
image "redis" {}
exclude = ["docker.io/redislabs/redisinsight:*"]
builder {
  kind      = "buildah"
  platforms = ["linux/amd64", "linux/arm64"]
  args      = ["--network=host"]
}

target { registry = "registry.example.com/ai-infra-matrix" }
render {
  env = {
    REDIS_IMAGE    = "docker.io/library/redis:7-alpine"
    POSTGRES_IMAGE = "postgres:15-alpine"
    "MINIO_IMAGE"  = "quay.io/minio/minio:latest"
  }
}

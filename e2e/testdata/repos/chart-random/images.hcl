# A chart whose test hook names its Pod with randAlphaNum, and which
# declares images in Chart.yaml annotations (its own and a subchart's).
target {
  registry = "TARGET/web"
}
discover {
  helm "web" {
    chart  = "charts/web"
    values = ["charts/web/values-prod.yaml"]
  }
}
registry "docker.io" {
  mirrors = ["HUB"]
}
registry "quay.io" {
  mirrors = ["QUAY"]
}

# rendered by deploy.sh: REGISTRY and TAG filled in
services:
  web:
    image: {{REGISTRY}}/web:{{TAG}}
    build: services/web
  db:
    image: postgres:15-alpine

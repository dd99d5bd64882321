# Rendered by deploy.sh, which replaces the placeholders.
services:
  web:
    image: {{REGISTRY}}/web:{{TAG}}
    ports:
      - "{{WEB_PORT}}:80"

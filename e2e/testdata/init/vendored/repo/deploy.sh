#!/bin/sh
sed -e "s|{{REGISTRY}}|$REGISTRY|" docker-compose.yml.tpl > docker-compose.yml

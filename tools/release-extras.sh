#!/usr/bin/env bash
# The files every release archive carries beside the binary, generated
# from imagesync's command table (goreleaser's before hook, or by hand):
# shell completions under build/release/completions and man pages under
# build/release/manpages.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/release
rm -rf "$out"
mkdir -p "$out/completions" "$out/manpages"
# The host's imagesync, built once: go run would build it for each file.
CGO_ENABLED=0 go build -o "$out/imagesync" ./cmd/imagesync
"$out/imagesync" completion bash > "$out/completions/imagesync.bash"
"$out/imagesync" completion zsh > "$out/completions/_imagesync"
"$out/imagesync" completion fish > "$out/completions/imagesync.fish"
"$out/imagesync" completion powershell > "$out/completions/imagesync.ps1"
"$out/imagesync" man -o "$out/manpages" > /dev/null
gzip -n -9 "$out"/manpages/*.1
rm "$out/imagesync"
